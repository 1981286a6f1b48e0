using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace EmStreaming.Client.Transport;

/// <summary>Reads a <c>text/event-stream</c> body (the WHATWG rules: event, data, id fields; comments; a blank line ends an event).</summary>
internal static class ServerSentEvents
{
    public static async IAsyncEnumerable<ModelEvent> ReadAsync(Stream body, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(body, Encoding.UTF8);
        string? type = null;
        string? id = null;
        var data = new StringBuilder();
        while (await ReadLineAsync(reader, cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0)
                {
                    yield return new ModelEvent(type ?? "message", id, Parse(data.ToString()));
                }

                type = null;
                data.Clear();
                continue;
            }

            if (line[0] == ':')
            {
                continue; // a comment: keep-alive or "subscribed"
            }

            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            switch (field)
            {
                case "event":
                    type = value;
                    break;
                case "data":
                    if (data.Length > 0)
                    {
                        data.Append('\n');
                    }

                    data.Append(value);
                    break;
                case "id":
                    id = value;
                    break;
            }
        }
    }

    /// <summary>The next line; a connection that breaks off mid-stream is the server's failure (an <see cref="EmStreamingException"/>), not an I/O exception for the caller to guess at.</summary>
    private static async Task<string?> ReadLineAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new EmStreamingException($"the event stream broke off: {e.Message}", inner: e);
        }
    }

    private static JsonElement Parse(string data)
    {
        try
        {
            using var document = JsonDocument.Parse(data);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new EmStreamingException($"the server sent an event whose data is not JSON: {e.Message}");
        }
    }
}
