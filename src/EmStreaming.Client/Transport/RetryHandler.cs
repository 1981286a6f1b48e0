using System.Net;
using Polly;
using Polly.Retry;

namespace EmStreaming.Client.Transport;

/// <summary>
/// Retries 429 and 503 answers (except a 503 naming an unavailable model, which waiting cannot fix) (waiting what Retry-After says, capped by <see cref="EmStreamingClientOptions.MaxRetryDelay"/>,
/// or an exponential backoff with jitter) and connection failures of requests that are safe to repeat. The request
/// is sent again as it was, headers included: an append keeps its Idempotency-Key, so a batch that did land is
/// answered from the server's record instead of being applied twice.
/// </summary>
internal sealed class RetryHandler : DelegatingHandler
{
    /// <summary>Set on requests that may be repeated after a connection failure (reads, and writes carrying an Idempotency-Key).</summary>
    public static readonly HttpRequestOptionsKey<bool> SafeToRepeat = new("EmStreaming.SafeToRepeat");

    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    public RetryHandler(EmStreamingClientOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time };
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = options.MaxRetryDelay,
                ShouldHandle = async args => args.Outcome switch
                {
                    { Result.StatusCode: HttpStatusCode.TooManyRequests } => true,
                    // A model whose stored state is unreadable answers 503 too, but waiting does not help it: no retry.
                    { Result: { StatusCode: HttpStatusCode.ServiceUnavailable } busy } =>
                        !await ProblemReader.IsModelUnavailableAsync(busy, args.Context.CancellationToken).ConfigureAwait(false),
                    { Exception: HttpRequestException } => args.Context.Properties.TryGetValue(SafeToRepeatProperty, out var safe) && safe,
                    _ => false,
                },
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Result is { } response && ProblemReader.RetryAfter(response, time) is { } wait
                        ? (TimeSpan?)(wait > options.MaxRetryDelay ? options.MaxRetryDelay : wait)
                        : null),
                OnRetry = args =>
                {
                    // The refused answer is not handed to anyone: release its connection before trying again.
                    args.Outcome.Result?.Dispose();
                    return default;
                },
            });
        }

        _pipeline = builder.Build();
    }

    private static readonly ResiliencePropertyKey<bool> SafeToRepeatProperty = new("EmStreaming.SafeToRepeat");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            context.Properties.Set(SafeToRepeatProperty, request.Options.TryGetValue(SafeToRepeat, out var safe) && safe);
            return await _pipeline.ExecuteAsync(
                static async (ctx, state) => await state.Handler.SendOnceAsync(state.Request, ctx.CancellationToken).ConfigureAwait(false),
                context,
                (Handler: this, Request: request)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        base.SendAsync(request, cancellationToken);
}
