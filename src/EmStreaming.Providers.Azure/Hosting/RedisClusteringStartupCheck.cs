using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;
using StackExchange.Redis;

namespace EmStreaming.Providers.Azure.Hosting;

/// <summary>
/// Connects to the Redis server of the membership once at the very start of the silo, so an unreachable server is one
/// clear error naming <c>Orleans:Redis:ConnectionString</c> (an <see cref="OptionsValidationException"/>, the server's
/// exit code 2) instead of Orleans' membership failing later with an unhandled <see cref="RedisConnectionException"/>.
/// </summary>
internal sealed class RedisClusteringStartupCheck(ConfigurationOptions redis) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RedisClusteringStartupCheck), ServiceLifecycleStage.First, CheckAsync);

    private async Task CheckAsync(CancellationToken cancellationToken)
    {
        var once = redis.Clone();
        // One attempt within the configured connect timeout, whatever the string says about retrying in the background.
        once.AbortOnConnectFail = true;
        try
        {
            var connection = await ConnectionMultiplexer.ConnectAsync(once).WaitAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                await connection.GetDatabase().PingAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // The client's message goes on to advise abortConnect=false, which would only postpone this error: keep its first sentence.
            var reason = e.Message.Split(". ")[0].TrimEnd('.') + (e.InnerException is { } inner ? $": {inner.Message}" : "");
            throw new OptionsValidationException(EmStreamingClusterOptions.SectionName, typeof(EmStreamingClusterOptions),
                [$"Orleans:Redis:ConnectionString: the Redis server at {string.Join(", ", once.EndPoints)} is unreachable ({reason})"]);
        }
    }
}
