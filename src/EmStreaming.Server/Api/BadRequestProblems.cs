using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;

namespace EmStreaming.Server.Api;

/// <summary>
/// Gives Kestrel's own rejections (400, 414, 431; 505 becomes a 400) a problem+json body. Kestrel refuses some requests before any middleware runs (an encoded
/// NUL, <c>%00</c>, in the path; a malformed request line or header) and answers them with an empty 400 and
/// <c>Connection: close</c>. This connection middleware recognises that answer on its way out and writes the same
/// status with a problem body instead, naming <c>id</c> when the NUL sat in a model id. Every other byte passes
/// through untouched. It sees plaintext HTTP/1.x only: behind TLS the bytes it watches are encrypted, and HTTP/2
/// reports such errors as stream resets.
/// </summary>
internal static class BadRequestProblems
{
    /// <summary>Kestrel's head for a request it rejected: an error status, an empty body and a closed connection.</summary>
    private static readonly byte[] StatusLinePrefix = "HTTP/1.1 "u8.ToArray();
    private static readonly byte[] EmptyBody = "\r\nContent-Length: 0\r\n"u8.ToArray();
    private static readonly byte[] Close = "\r\nConnection: close\r\n"u8.ToArray();
    private static readonly byte[] EndOfHead = "\r\n\r\n"u8.ToArray();

    public static ConnectionDelegate Wrap(ConnectionDelegate next) => async connection =>
    {
        var original = connection.Transport;
        var input = new WatchingReader(original.Input);
        connection.Transport = new DuplexPipe(input, new RewritingWriter(original.Output, input));
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            connection.Transport = original;
        }
    };

    /// <summary>The problem answer that replaces Kestrel's empty one, with its status and other headers (Date, Server, Connection).</summary>
    internal static byte[] Rewrite(ReadOnlySpan<byte> head, RequestLine request)
    {
        var lines = Encoding.ASCII.GetString(head[..^EndOfHead.Length]).Split("\r\n");
        var statusLine = lines[0];
        var status = int.Parse(statusLine.AsSpan(StatusLinePrefix.Length, 3), System.Globalization.CultureInfo.InvariantCulture);
        if (status >= 500)
        {
            // An unsupported HTTP version is the client's doing: a 4xx, so that no request a client makes up is a 5xx.
            (status, statusLine) = (400, "HTTP/1.1 400 Bad Request");
        }

        var (field, detail) = status switch
        {
            400 when lines[0].Contains(" 505 ", StringComparison.Ordinal) => ("request", "the HTTP version is not supported; send HTTP/1.1 or HTTP/2"),
            400 when request.NulInModelId => ("id", "a model id is 1-128 characters of ASCII letters, digits, '.', '_', '-' and ':'; it holds an encoded NUL (%00)"),
            400 when request.NulInPath => ("path", "the path holds an encoded NUL (%00), which no resource has"),
            414 => ("path", "the request target is longer than the server accepts"),
            431 => ("headers", "the request headers are larger than the server accepts"),
            _ => ("request", "the request line or a header is malformed (RFC 9112), so the server could not read the request"),
        };
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["type"] = "urn:emstreaming:problem:bad-request",
            ["title"] = statusLine[(StatusLinePrefix.Length + 4)..],
            ["status"] = status,
            ["detail"] = detail,
            ["field"] = field,
        });
        var text = new StringBuilder(statusLine).Append("\r\n");
        foreach (var header in lines.Skip(1))
        {
            if (header.Length > 0 && !header.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase) && !header.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase))
            {
                text.Append(header).Append("\r\n");
            }
        }

        text.Append("Content-Type: ").Append(Problems.ContentType).Append("\r\n")
            .Append("Content-Length: ").Append(body.Length).Append("\r\n\r\n");
        return [.. Encoding.ASCII.GetBytes(text.ToString()), .. body];
    }

    /// <summary>
    /// True for the head Kestrel writes when it rejects a request: an error status, an empty body and a closed
    /// connection (the application's own errors always carry a problem body).
    /// </summary>
    internal static bool IsRejection(ReadOnlySpan<byte> written) =>
        written.Length > StatusLinePrefix.Length + 4
        && written.StartsWith(StatusLinePrefix)
        && written[StatusLinePrefix.Length] is (byte)'4' or (byte)'5'
        && written.EndsWith(EndOfHead)
        && written.IndexOf(EmptyBody) >= 0
        && written.IndexOf(Close) >= 0;

    /// <summary>What the last request line said, as far as the rewrite needs it.</summary>
    internal readonly record struct RequestLine(bool NulInPath, bool NulInModelId)
    {
        public static RequestLine Parse(ReadOnlySpan<byte> data)
        {
            var end = data.IndexOf("\r\n"u8);
            var line = end >= 0 ? data[..end] : data[..Math.Min(data.Length, 8192)];
            var target = line.IndexOf((byte)' ') is var space and >= 0 ? line[(space + 1)..] : default;
            target = target.IndexOf((byte)' ') is var stop and >= 0 ? target[..stop] : target;
            var path = target.IndexOfAny((byte)'?', (byte)'#') is var q and >= 0 ? target[..q] : target;
            var nul = path.IndexOf("%00"u8);
            if (nul < 0)
            {
                return default;
            }

            const string models = "/v1/models/";
            var inId = path.StartsWith(Encoding.ASCII.GetBytes(models)) && path[models.Length..].IndexOf((byte)'/') is var slash
                && (slash < 0 || nul < models.Length + slash);
            return new RequestLine(true, inId);
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>Passes reads through, noting whether the request line at the start of the unread data holds an encoded NUL.</summary>
    private sealed class WatchingReader(PipeReader inner) : PipeReader
    {
        public RequestLine Last { get; private set; }

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            var result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
            Watch(result.Buffer);
            return result;
        }

        public override bool TryRead(out ReadResult result)
        {
            if (!inner.TryRead(out result))
            {
                return false;
            }

            Watch(result.Buffer);
            return true;
        }

        private void Watch(ReadOnlySequence<byte> buffer)
        {
            // Unread data starts where Kestrel stopped: at a request line when it is between requests.
            if (!buffer.IsEmpty)
            {
                Last = RequestLine.Parse(buffer.FirstSpan);
            }
        }

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }

    /// <summary>Passes writes through; an empty 400 (Kestrel's rejection) is replaced by the problem answer before it is committed.</summary>
    private sealed class RewritingWriter(PipeWriter inner, WatchingReader input) : PipeWriter
    {
        private Memory<byte> _buffer;

        public override Memory<byte> GetMemory(int sizeHint = 0) => _buffer = inner.GetMemory(sizeHint);

        // The memory is kept so that Advance can look at what was written before committing it.
        public override Span<byte> GetSpan(int sizeHint = 0) => (_buffer = inner.GetMemory(sizeHint)).Span;

        public override void Advance(int bytes)
        {
            var written = _buffer.Span[..Math.Min(bytes, _buffer.Length)];
            if (bytes > 0 && written.Length == bytes && IsRejection(written))
            {
                var replacement = Rewrite(written, input.Last);
                replacement.CopyTo(inner.GetSpan(replacement.Length));
                inner.Advance(replacement.Length);
                return;
            }

            inner.Advance(bytes);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;
    }
}
