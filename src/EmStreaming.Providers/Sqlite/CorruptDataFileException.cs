namespace EmStreaming.Providers.Sqlite;

/// <summary>
/// The SQLite data file is not a database or is damaged. Raised at start-up (when a provider opens the file) and by any
/// later statement that finds damage. The server maps it to exit code 2; restore the file from a backup or move it away.
/// </summary>
public sealed class CorruptDataFileException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The full path of the damaged file.</param>
    /// <param name="innerException">SQLite's error.</param>
    public CorruptDataFileException(string path, Exception innerException)
        : base($"The data file '{path}' is corrupt or not an EmStreaming database ({innerException.Message}). Restore it from a backup or move it away to start empty.", innerException)
    {
        FilePath = path;
    }

    /// <summary>The full path of the damaged file.</summary>
    public string FilePath { get; }
}
