using Microsoft.Extensions.Options;

namespace EmStreaming.Providers.Sqlite;

/// <summary>
/// Where the embedded providers keep their one SQLite file (stream log, grain state and snapshot history share it).
/// Bound from the configuration section <c>Storage</c> (<see cref="SectionName"/>).
/// </summary>
public sealed class SqliteStorageOptions
{
    /// <summary>The configuration section: <c>Storage</c>.</summary>
    public const string SectionName = "Storage";

    /// <summary>Default <see cref="FileName"/>: <c>emstreaming.db</c>.</summary>
    public const string DefaultFileName = "emstreaming.db";

    /// <summary>Default <see cref="DataDirectory"/>: <c>data</c>, relative to the working directory.</summary>
    public const string DefaultDataDirectory = "data";

    /// <summary>Default <see cref="BusyTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultBusyTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Directory holding the database file (<c>Storage:DataDirectory</c>); created when missing.</summary>
    public string DataDirectory { get; set; } = DefaultDataDirectory;

    /// <summary>File name inside <see cref="DataDirectory"/> (<c>Storage:FileName</c>); a plain name, no directory parts.</summary>
    public string FileName { get; set; } = DefaultFileName;

    /// <summary>
    /// <c>Storage:FullSync</c>. True (default): commits use <c>synchronous=FULL</c>, so an acknowledged write survives power
    /// loss, not only a process crash. False: <c>synchronous=NORMAL</c>, faster, durable against process crashes only.
    /// </summary>
    public bool FullSync { get; set; } = true;

    /// <summary>How long a statement waits on a database locked by another process (<c>Storage:BusyTimeout</c>).</summary>
    public TimeSpan BusyTimeout { get; set; } = DefaultBusyTimeout;

    /// <summary>
    /// <c>Storage:CheckIntegrityOnStart</c>. True (default): the first provider that opens the file runs SQLite's
    /// <c>PRAGMA quick_check</c> (time linear in the file size), so damage anywhere in the file stops the start-up with
    /// <see cref="CorruptDataFileException"/> instead of surfacing later in one read.
    /// </summary>
    public bool CheckIntegrityOnStart { get; set; } = true;

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => Path.GetFullPath(Path.Combine(DataDirectory, FileName));
}

/// <summary>Validates <see cref="SqliteStorageOptions"/> at start-up; every message names the setting.</summary>
internal sealed class SqliteStorageOptionsValidator : IValidateOptions<SqliteStorageOptions>
{
    public ValidateOptionsResult Validate(string? name, SqliteStorageOptions options) => Check(options) is { } error
        ? ValidateOptionsResult.Fail(error)
        : ValidateOptionsResult.Success;

    internal static string? Check(SqliteStorageOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            return "Storage:DataDirectory must name a directory.";
        }

        if (string.IsNullOrWhiteSpace(options.FileName) || options.FileName.IndexOfAny(['/', '\\']) >= 0 || options.FileName is "." or "..")
        {
            return $"Storage:FileName must be a plain file name without directory parts (got '{options.FileName}').";
        }

        if (options.BusyTimeout <= TimeSpan.Zero)
        {
            return $"Storage:BusyTimeout must be greater than zero (got {options.BusyTimeout}).";
        }

        return null;
    }
}
