using System.Net;
using Microsoft.Extensions.Configuration;
using EmStreaming.Server.Security;
using Microsoft.Extensions.Options;

namespace EmStreaming.Server.Hosting;

/// <summary>Validates <see cref="ServerOptions"/> at start-up; every message names the setting.</summary>
internal sealed class ServerOptionsValidator : IValidateOptions<ServerOptions>
{
    public ValidateOptionsResult Validate(string? name, ServerOptions options)
    {
        var failures = new List<string>();
        if (ListenAddresses.Parse(options.Urls, out var error) is null)
        {
            failures.Add($"{ServerOptions.SectionName}:{nameof(ServerOptions.Urls)} (or --urls): {error}");
        }

        if (options.MaxRequestBodyBytes is < 1024 or > 1L << 31)
        {
            failures.Add($"{ServerOptions.SectionName}:{nameof(ServerOptions.MaxRequestBodyBytes)} must be between 1024 and 2147483648 bytes (was {options.MaxRequestBodyBytes}).");
        }

        if (options.MaxRowsPerBatch is < 1 or > 10_000_000)
        {
            failures.Add($"{ServerOptions.SectionName}:{nameof(ServerOptions.MaxRowsPerBatch)} must be between 1 and 10000000 (was {options.MaxRowsPerBatch}).");
        }

        if (options.MaxQueryRows is < 1 or > 1_000_000)
        {
            failures.Add($"{ServerOptions.SectionName}:{nameof(ServerOptions.MaxQueryRows)} must be between 1 and 1000000 (was {options.MaxQueryRows}).");
        }

        if (options.RetryAfterSeconds is < 1 or > 3600)
        {
            failures.Add($"{ServerOptions.SectionName}:{nameof(ServerOptions.RetryAfterSeconds)} must be between 1 and 3600 (was {options.RetryAfterSeconds}).");
        }

        if (options.EventKeepAlive < TimeSpan.FromMilliseconds(100) || options.EventKeepAlive > TimeSpan.FromMinutes(10))
        {
            failures.Add($"{ServerOptions.SectionName}:{nameof(ServerOptions.EventKeepAlive)} must be between 00:00:00.1 and 00:10:00 (was {options.EventKeepAlive}).");
        }

        if (options.StatusPollInterval < TimeSpan.FromMilliseconds(100) || options.StatusPollInterval > TimeSpan.FromHours(1))
        {
            failures.Add($"{ServerOptions.SectionName}:{nameof(ServerOptions.StatusPollInterval)} must be between 00:00:00.1 and 01:00:00 (was {options.StatusPollInterval}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>
/// Validates <see cref="SecurityOptions"/>: well-formed keys, known scopes, and no anonymous access on a
/// non-loopback address unless <see cref="SecurityOptions.AllowAnonymousNonLoopback"/> says so.
/// </summary>
internal sealed class SecurityOptionsValidator(IOptions<ServerOptions> server, IConfiguration configuration) : IValidateOptions<SecurityOptions>
{
    /// <summary>Where Kestrel reads its own endpoints; any of them is bound besides (or instead of) the URL list.</summary>
    public const string KestrelEndpointsSection = "Kestrel:Endpoints";

    public ValidateOptionsResult Validate(string? name, SecurityOptions options)
    {
        var failures = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.ApiKeys.Count; i++)
        {
            var key = options.ApiKeys[i];
            var setting = $"{SecurityOptions.SectionName}:{nameof(SecurityOptions.ApiKeys)}:{i}";
            if (string.IsNullOrEmpty(key.Key) || key.Key.Length < SecurityOptions.MinimumKeyLength)
            {
                failures.Add($"{setting}:{nameof(ApiKeyOptions.Key)} must have at least {SecurityOptions.MinimumKeyLength} characters.");
            }
            else if (key.Key.Any(c => c <= ' ' || c > '~'))
            {
                failures.Add($"{setting}:{nameof(ApiKeyOptions.Key)} must be printable ASCII without spaces.");
            }
            else if (!seen.Add(key.Key))
            {
                failures.Add($"{setting}:{nameof(ApiKeyOptions.Key)} repeats an earlier key.");
            }

            if (key.Scopes.Count == 0)
            {
                failures.Add($"{setting}:{nameof(ApiKeyOptions.Scopes)} must list read and/or write.");
            }

            foreach (var scope in key.Scopes)
            {
                if (scope is not (ApiScopes.Read or ApiScopes.Write))
                {
                    failures.Add($"{setting}:{nameof(ApiKeyOptions.Scopes)}: '{scope}' is not one of read, write.");
                }
            }
        }

        if (options.ApiKeys.Count == 0 && !options.AllowAnonymousNonLoopback)
        {
            foreach (var (setting, address) in BoundAddresses(failures))
            {
                if (!address.IsLoopback)
                {
                    failures.Add(
                        $"The server would listen on {address.Url} ({setting}), which is not a loopback address, without API keys. " +
                        $"Configure {SecurityOptions.SectionName}:{nameof(SecurityOptions.ApiKeys)} or set " +
                        $"{SecurityOptions.SectionName}:{nameof(SecurityOptions.AllowAnonymousNonLoopback)}=true.");
                    break;
                }
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>
    /// Every address Kestrel may bind: the URL list (<c>urls</c>, <c>Server:Urls</c>) and each endpoint of the
    /// <c>Kestrel:Endpoints</c> section, from whatever source set it (file, environment, command line). Kestrel prefers
    /// its endpoints over the URL list; checking both refuses every exposed combination.
    /// </summary>
    private IEnumerable<(string Setting, ListenAddress Address)> BoundAddresses(List<string> failures)
    {
        foreach (var address in ListenAddresses.Parse(server.Value.Urls, out _) ?? [])
        {
            yield return ($"{ServerOptions.SectionName}:{nameof(ServerOptions.Urls)}", address);
        }

        foreach (var endpoint in configuration.GetSection(KestrelEndpointsSection).GetChildren())
        {
            var setting = $"{KestrelEndpointsSection}:{endpoint.Key}:Url";
            var url = endpoint["Url"];
            if (ListenAddresses.Parse(url, out var error) is not { } parsed)
            {
                failures.Add($"{setting}: {error}");
                continue;
            }

            foreach (var address in parsed)
            {
                yield return (setting, address);
            }
        }
    }
}

/// <summary>Validates <see cref="RateLimitingOptions"/>.</summary>
internal sealed class RateLimitingOptionsValidator : IValidateOptions<RateLimitingOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitingOptions options)
    {
        var failures = new List<string>();
        if (options.PermitsPerSecond is < 1 or > 1_000_000)
        {
            failures.Add($"{RateLimitingOptions.SectionName}:{nameof(RateLimitingOptions.PermitsPerSecond)} must be between 1 and 1000000 (was {options.PermitsPerSecond}).");
        }

        if (options.Burst is < 1 or > 1_000_000)
        {
            failures.Add($"{RateLimitingOptions.SectionName}:{nameof(RateLimitingOptions.Burst)} must be between 1 and 1000000 (was {options.Burst}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>Validates <see cref="DemoOptions"/>.</summary>
internal sealed class DemoOptionsValidator : IValidateOptions<DemoOptions>
{
    public ValidateOptionsResult Validate(string? name, DemoOptions options)
    {
        var failures = new List<string>();
        if (options.Sensors is < 1 or > 1000)
        {
            failures.Add($"{DemoOptions.SectionName}:{nameof(DemoOptions.Sensors)} must be between 1 and 1000 (was {options.Sensors}).");
        }

        if (options.Interval < TimeSpan.FromMilliseconds(10) || options.Interval > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{DemoOptions.SectionName}:{nameof(DemoOptions.Interval)} must be between 00:00:00.01 and 00:01:00 (was {options.Interval}).");
        }

        if (options.SensorRowsPerTick is < 1 or > 10_000)
        {
            failures.Add($"{DemoOptions.SectionName}:{nameof(DemoOptions.SensorRowsPerTick)} must be between 1 and 10000 (was {options.SensorRowsPerTick}).");
        }

        if (options.MarketRowsPerTick is < 1 or > 10_000)
        {
            failures.Add($"{DemoOptions.SectionName}:{nameof(DemoOptions.MarketRowsPerTick)} must be between 1 and 10000 (was {options.MarketRowsPerTick}).");
        }

        if (options.HistoryRows is < 0 or > 1_000_000)
        {
            failures.Add($"{DemoOptions.SectionName}:{nameof(DemoOptions.HistoryRows)} must be between 0 and 1000000 (was {options.HistoryRows}).");
        }

        if (Api.ModelIds.Validate(options.ModelPrefix + "x") is { } error)
        {
            failures.Add($"{DemoOptions.SectionName}:{nameof(DemoOptions.ModelPrefix)}: {error}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>Validates <see cref="TelemetryOptions"/>.</summary>
internal sealed class TelemetryOptionsValidator : IValidateOptions<TelemetryOptions>
{
    public ValidateOptionsResult Validate(string? name, TelemetryOptions options)
    {
        var failures = new List<string>();
        if (options.OtlpEndpoint is { Length: > 0 } endpoint
            && (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            failures.Add($"{TelemetryOptions.SectionName}:{nameof(TelemetryOptions.OtlpEndpoint)} must be an absolute http(s) URL (was '{endpoint}').");
        }

        if (options.Protocol is not ("grpc" or "http/protobuf"))
        {
            failures.Add($"{TelemetryOptions.SectionName}:{nameof(TelemetryOptions.Protocol)} must be grpc or http/protobuf (was '{options.Protocol}').");
        }

        if (options.ExportInterval < TimeSpan.FromSeconds(1))
        {
            failures.Add($"{TelemetryOptions.SectionName}:{nameof(TelemetryOptions.ExportInterval)} must be at least 00:00:01 (was {options.ExportInterval}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>A parsed listen address.</summary>
internal readonly record struct ListenAddress(string Url, bool IsLoopback);

/// <summary>Parses the <c>;</c>-separated URL list Kestrel listens on.</summary>
internal static class ListenAddresses
{
    public static IReadOnlyList<ListenAddress>? Parse(string? urls, out string? error)
    {
        error = null;
        var parts = (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            error = "no address given";
            return null;
        }

        var result = new List<ListenAddress>(parts.Length);
        foreach (var part in parts)
        {
            // Kestrel accepts wildcards (http://*:5080, http://+:5080) that Uri rejects: they mean every interface.
            var normalized = part.Replace("://*", "://wildcard.invalid", StringComparison.Ordinal).Replace("://+", "://wildcard.invalid", StringComparison.Ordinal);
            if (!Uri.TryCreate(normalized, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                error = $"'{part}' is not an http(s) URL such as {ServerOptions.DefaultUrls}";
                return null;
            }

            var host = uri.Host.Trim('[', ']');
            var loopback = host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
                || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
            result.Add(new ListenAddress(part, loopback));
        }

        return result;
    }
}
