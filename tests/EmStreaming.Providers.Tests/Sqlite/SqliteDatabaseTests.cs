using EmStreaming.Providers.Sqlite;
using EmStreaming.Providers.Tests.TestSupport;
using Microsoft.Data.Sqlite;

namespace EmStreaming.Providers.Tests.Sqlite;

public sealed class SqliteDatabaseTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Get_SamePathTwice_SharesOneDatabaseAndWriteGate_OtherProvidersDoNot()
    {
        using var first = new SqliteDatabaseProvider();
        using var second = new SqliteDatabaseProvider();

        var a = first.Get(_directory.Options);
        var b = first.Get(_directory.Options);
        var c = second.Get(_directory.Options);

        Assert.Same(a, b);
        Assert.Same(a.WriteGate, b.WriteGate);
        Assert.NotSame(a.WriteGate, c.WriteGate);
    }

    [Fact]
    public void Get_DamagedPageInsideAValidFile_IntegrityCheckThrowsCorruptDataFileNamingTheFile()
    {
        var path = _directory.DatabasePath;
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                PRAGMA page_size = 4096; PRAGMA journal_mode = DELETE;
                CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB);
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t SELECT i, randomblob(200) FROM n;
                """;
            command.ExecuteNonQuery();
        }

        using (var file = File.OpenWrite(path))
        {
            // Page 3 onwards: b-tree pages of the table. The header (page 1) stays valid, so the file still opens.
            file.Position = 4096 * 2;
            file.Write(Enumerable.Repeat((byte)0xff, 4096 * 4).ToArray());
        }

        using var databases = new SqliteDatabaseProvider();
        var error = Assert.Throws<CorruptDataFileException>(() => databases.Get(_directory.Options));

        Assert.Equal(path, error.FilePath);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Get_CheckDisabled_DamagedFileStillOpens()
    {
        var options = _directory.Options;
        options.CheckIntegrityOnStart = false;
        File.WriteAllBytes(options.DatabasePath, []);

        using var databases = new SqliteDatabaseProvider();

        Assert.Equal(options.DatabasePath, databases.Get(options).Path);
    }
}
