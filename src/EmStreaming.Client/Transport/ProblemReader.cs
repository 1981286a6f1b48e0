using System.Net;
using System.Text.Json;

namespace EmStreaming.Client.Transport;

/// <summary>Turns an error answer (problem+json, or anything else) into the matching typed exception.</summary>
internal static class ProblemReader
{
    public static async Task<EmStreamingException> ToExceptionAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        var problem = Parse(text, status) ?? new Problem(status, null, response.ReasonPhrase, text.Length > 0 ? Truncate(text) : null, null);
        var message = $"HTTP {status} {problem.Title}: {problem.Detail ?? "(no detail)"}";
        return response.StatusCode switch
        {
            HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.UnsupportedMediaType => new InvalidRequestException(message, problem),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new AccessDeniedException(message, problem),
            HttpStatusCode.NotFound when problem.Type == SnapshotNotFoundException.ProblemType => new SnapshotNotFoundException(message, problem),
            HttpStatusCode.NotFound => new ModelNotFoundException(message, problem),
            HttpStatusCode.Conflict => new ModelConflictException(message, problem),
            HttpStatusCode.ServiceUnavailable when problem.Type == ModelUnavailableException.ProblemType => new ModelUnavailableException(message, problem),
            HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable => new ServerBusyException(message, problem, RetryAfter(response, TimeProvider.System)),
            _ => new EmStreamingException(message, problem),
        };
    }

    /// <summary>
    /// True for a 503 that says one model is unavailable (its stored state is unreadable) rather than that the server is busy:
    /// retrying it cannot help. Buffers the body, so it can still be read afterwards.
    /// </summary>
    public static async ValueTask<bool> IsModelUnavailableAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
        {
            return false;
        }

        await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return Parse(text, (int)response.StatusCode)?.Type == ModelUnavailableException.ProblemType;
    }

    /// <summary>The wait a 429/503 answer asks for (Retry-After as seconds or as a date), or null.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - time.GetUtcNow() is { } wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    private static Problem? Parse(string text, int status)
    {
        if (text.Length == 0)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            string? Text(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var code = root.TryGetProperty("status", out var s) && s.TryGetInt32(out var n) ? n : status;
            return new Problem(code, Text("type"), Text("title"), Text("detail"), Text("field"));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Truncate(string text) => text.Length <= 500 ? text : text[..500] + "…";
}
