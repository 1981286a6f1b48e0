using Microsoft.Extensions.Options;

namespace EmStreaming.Client;

/// <summary>Settings of an <see cref="IEmStreamingClient"/>, validated by <see cref="EmStreamingClientOptionsValidator"/>.</summary>
public sealed class EmStreamingClientOptions
{
    /// <summary>Default <see cref="BaseAddress"/>: the server's default loopback address.</summary>
    public static readonly Uri DefaultBaseAddress = new("http://127.0.0.1:5080");

    /// <summary>Default <see cref="MaxRetries"/>.</summary>
    public const int DefaultMaxRetries = 4;

    /// <summary>The server's address (http or https). Default <c>http://127.0.0.1:5080</c>.</summary>
    public Uri BaseAddress { get; set; } = DefaultBaseAddress;

    /// <summary>API key sent as <c>X-Api-Key</c>; null when the server has none.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Time allowed for one request (event streams excepted). Default 100 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>
    /// Retries of a 429 or 503 answer (and of a connection failure on a request that is safe to repeat), waiting what
    /// Retry-After says or an exponential backoff. Appends keep their Idempotency-Key across retries. 0 disables retries. Default 4.
    /// </summary>
    public int MaxRetries { get; set; } = DefaultMaxRetries;

    /// <summary>First backoff delay when the server gives no Retry-After. Default 200 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest wait between two attempts, whatever Retry-After says. Default 30 seconds.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>Validates <see cref="EmStreamingClientOptions"/>; each message names the setting.</summary>
public sealed class EmStreamingClientOptionsValidator : IValidateOptions<EmStreamingClientOptions>
{
    public ValidateOptionsResult Validate(string? name, EmStreamingClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.BaseAddress is not { IsAbsoluteUri: true, Scheme: "http" or "https" })
        {
            failures.Add($"{nameof(EmStreamingClientOptions.BaseAddress)} must be an absolute http(s) URL such as {EmStreamingClientOptions.DefaultBaseAddress} (was '{options.BaseAddress}').");
        }

        if (options.ApiKey is { } key && (key.Length == 0 || key.Any(c => c <= ' ' || c > '~')))
        {
            failures.Add($"{nameof(EmStreamingClientOptions.ApiKey)} must be printable ASCII without spaces.");
        }

        if (options.Timeout <= TimeSpan.Zero && options.Timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            failures.Add($"{nameof(EmStreamingClientOptions.Timeout)} must be positive (was {options.Timeout}).");
        }

        if (options.MaxRetries is < 0 or > 100)
        {
            failures.Add($"{nameof(EmStreamingClientOptions.MaxRetries)} must be between 0 and 100 (was {options.MaxRetries}).");
        }

        if (options.RetryDelay <= TimeSpan.Zero || options.MaxRetryDelay < options.RetryDelay)
        {
            failures.Add($"{nameof(EmStreamingClientOptions.RetryDelay)} must be positive and at most {nameof(EmStreamingClientOptions.MaxRetryDelay)} (were {options.RetryDelay} and {options.MaxRetryDelay}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
