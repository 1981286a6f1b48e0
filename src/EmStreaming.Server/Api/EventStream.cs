using System.Text;
using System.Text.Json;
using EmStreaming.Grains;
using EmStreaming.Server.Hosting;
using Microsoft.Extensions.Options;

namespace EmStreaming.Server.Api;

/// <summary>
/// Server-sent events: one <c>event: TYPE</c> / <c>data: JSON</c> record per model event, a comment line as a
/// keep-alive when idle, written until the client disconnects or the server stops.
/// </summary>
internal static class EventStream
{
    public const string ContentType = "text/event-stream";

    public static async Task ModelEventsAsync(string id, HttpContext context, IModelService service, IOptions<ServerOptions> options, TimeProvider time, IHostApplicationLifetime lifetime)
    {
        ModelIds.EnsureValid(id);

        // An unknown model is a 404 before the stream opens, not an empty stream forever.
        await service.GetModelAsync(id, context.RequestAborted).ConfigureAwait(false);
        await StreamAsync(id, context, service, options.Value, time, lifetime).ConfigureAwait(false);
    }

    public static Task AllEventsAsync(HttpContext context, IModelService service, IOptions<ServerOptions> options, TimeProvider time, IHostApplicationLifetime lifetime) =>
        StreamAsync(null, context, service, options.Value, time, lifetime);

    private static async Task StreamAsync(string? id, HttpContext context, IModelService service, ServerOptions options, TimeProvider time, IHostApplicationLifetime lifetime)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var cancellationToken = stop.Token;
        var response = context.Response;
        response.ContentType = ContentType;
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";

        // One writer at a time: the keep-alive timer and the event loop share the response.
        using var gate = new SemaphoreSlim(1, 1);
        var sequence = 0L;

        async Task WriteAsync(string text)
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await response.WriteAsync(text, Encoding.UTF8, cancellationToken).ConfigureAwait(false);
                await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }
        }

        try
        {
            // The subscription starts before the "subscribed" comment is written: a client that has read it and then
            // acts (refit, append) must see the events its action causes. The first MoveNextAsync runs the
            // subscriber's registration synchronously and then waits for the first event.
            var events = service.SubscribeAsync(id, cancellationToken).GetAsyncEnumerator(cancellationToken);
            await using (events.ConfigureAwait(false))
            {
                var next = events.MoveNextAsync().AsTask();

                // The retry hint and a first comment open the stream at once, so clients know they are subscribed.
                await WriteAsync($"retry: 2000\n: subscribed to {(id is null ? "all models" : id)}\n\n").ConfigureAwait(false);
                var keepAlive = KeepAliveAsync(WriteAsync, options.EventKeepAlive, time, cancellationToken);
                try
                {
                    while (await next.ConfigureAwait(false))
                    {
                        var e = events.Current;
                        var json = JsonSerializer.Serialize(e, ApiJson.Options);
                        await WriteAsync($"id: {++sequence}\nevent: {Names.Of(e.Type)}\ndata: {json}\n\n").ConfigureAwait(false);
                        next = events.MoveNextAsync().AsTask();
                    }
                }
                finally
                {
                    await stop.CancelAsync().ConfigureAwait(false);
                    await keepAlive.ConfigureAwait(false);

                    // An async iterator cannot be disposed while a MoveNextAsync is pending: let it end first.
                    try
                    {
                        await next.ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client disconnected or the server is stopping: the stream simply ends.
        }
    }

    private static async Task KeepAliveAsync(Func<string, Task> write, TimeSpan interval, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new PeriodicTimer(interval, time);
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await write(": keep-alive\n\n").ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
