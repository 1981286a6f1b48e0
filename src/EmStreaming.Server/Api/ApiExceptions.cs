namespace EmStreaming.Server.Api;

/// <summary>Bad input found by the HTTP edge (before the service): 400 problem+json naming <see cref="Field"/>.</summary>
internal sealed class ApiValidationException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}

/// <summary>The request body is larger than <c>Server:MaxRequestBodyBytes</c>: 413 problem+json.</summary>
internal sealed class PayloadTooLargeException(long limit) : Exception($"the request body is larger than {limit} bytes (Server:MaxRequestBodyBytes)")
{
    public long Limit { get; } = limit;
}

/// <summary>The request's Content-Type is not one the endpoint reads: 415 problem+json.</summary>
internal sealed class UnsupportedContentTypeException(string? contentType, string supported)
    : Exception($"Content-Type '{contentType}' is not supported; send {supported}");

/// <summary>
/// The request body has a content or transfer coding other than chunked (gzip, br, ...): the server reads bodies as
/// sent, so 415 problem+json naming <see cref="Header"/> (Content-Encoding or Transfer-Encoding).
/// </summary>
internal sealed class UnsupportedContentEncodingException(string header, string? coding)
    : Exception($"{header} '{coding}' is not supported; send the body uncompressed, without {(header == "Transfer-Encoding" ? "a transfer coding other than chunked" : "a Content-Encoding header")}")
{
    public string Header { get; } = header;
}
