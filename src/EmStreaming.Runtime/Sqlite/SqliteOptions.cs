namespace EmStreaming.Runtime.Sqlite;

/// <summary>Where the embedded provider keeps its single SQLite file (stream log, snapshots and dead letters share it).</summary>
public sealed class SqliteOptions
{
    /// <summary>Default <see cref="FileName"/>: <c>emstreaming.db</c>.</summary>
    public const string DefaultFileName = "emstreaming.db";

    /// <summary>Default <see cref="BusyTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultBusyTimeout = TimeSpan.FromSeconds(30);

    private string _dataDirectory = "data";
    private string _fileName = DefaultFileName;
    private TimeSpan _busyTimeout = DefaultBusyTimeout;

    /// <summary>Directory holding the database file; created when missing. Default <c>data</c> (relative to the working directory).</summary>
    public string DataDirectory
    {
        get => _dataDirectory;
        set
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value, nameof(DataDirectory));
            _dataDirectory = value;
        }
    }

    /// <summary>File name of the database inside <see cref="DataDirectory"/>; a plain name, no directory parts.</summary>
    public string FileName
    {
        get => _fileName;
        set
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value, nameof(FileName));
            if (value.IndexOfAny(['/', '\\']) >= 0 || value is "." or "..")
            {
                throw new ArgumentException($"{nameof(FileName)} must be a plain file name without directory parts.", nameof(FileName));
            }

            _fileName = value;
        }
    }

    /// <summary>
    /// When true (default) commits use <c>synchronous=FULL</c>: an acknowledged append survives power loss, not only a process crash.
    /// When false, <c>synchronous=NORMAL</c>: faster, durable against process crashes only.
    /// </summary>
    public bool FullSync { get; set; } = true;

    /// <summary>How long a statement waits on a locked database before failing.</summary>
    public TimeSpan BusyTimeout { get => _busyTimeout; set => _busyTimeout = OptionGuard.Positive(value, nameof(BusyTimeout)); }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => Path.GetFullPath(Path.Combine(DataDirectory, FileName));

    internal SqliteOptions Clone() => (SqliteOptions)MemberwiseClone();
}
