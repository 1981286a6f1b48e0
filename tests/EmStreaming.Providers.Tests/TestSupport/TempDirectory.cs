using EmStreaming.Providers.Sqlite;
using Microsoft.Data.Sqlite;

namespace EmStreaming.Providers.Tests.TestSupport;

/// <summary>A fresh directory per test, deleted at dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emstreaming-providers-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>FullSync off: the tests check behaviour, not power-loss durability, and share two cores with other work.</summary>
    public SqliteStorageOptions Options => new() { DataDirectory = Path, FullSync = false };

    public string DatabasePath => Options.DatabasePath;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a pooled handle may still be closing.
        }
    }
}
