using Microsoft.Extensions.Options;

namespace EmStreaming.Providers.History;

/// <summary>How much snapshot history a grain keeps. Bound from <c>Storage:History</c> (<see cref="SectionName"/>).</summary>
public sealed class SnapshotHistoryOptions
{
    /// <summary>The configuration section: <c>Storage:History</c>.</summary>
    public const string SectionName = "Storage:History";

    /// <summary>Default <see cref="MaxVersions"/>: 100.</summary>
    public const int DefaultMaxVersions = 100;

    /// <summary>Default <see cref="MaxAge"/>: 7 days.</summary>
    public static readonly TimeSpan DefaultMaxAge = TimeSpan.FromDays(7);

    /// <summary>Most versions kept per grain (<c>Storage:History:MaxVersions</c>), at least 1.</summary>
    public int MaxVersions { get; set; } = DefaultMaxVersions;

    /// <summary>Versions older than this are removed at the next append (<c>Storage:History:MaxAge</c>); the newest is kept regardless.</summary>
    public TimeSpan MaxAge { get; set; } = DefaultMaxAge;
}

/// <summary>Validates <see cref="SnapshotHistoryOptions"/> at start-up, naming the setting.</summary>
internal sealed class SnapshotHistoryOptionsValidator : IValidateOptions<SnapshotHistoryOptions>
{
    public ValidateOptionsResult Validate(string? name, SnapshotHistoryOptions options) => Check(options) is { } error
        ? ValidateOptionsResult.Fail(error)
        : ValidateOptionsResult.Success;

    internal static string? Check(SnapshotHistoryOptions options) =>
        options.MaxVersions < 1 ? $"Storage:History:MaxVersions must be at least 1 (got {options.MaxVersions})."
        : options.MaxAge <= TimeSpan.Zero ? $"Storage:History:MaxAge must be greater than zero (got {options.MaxAge})."
        : null;
}
