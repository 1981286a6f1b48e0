using EmStreaming.Providers.History;
using EmStreaming.Providers.Sqlite;
using EmStreaming.Providers.TestKit;
using EmStreaming.Providers.Tests.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmStreaming.Providers.Tests.History;

public sealed class InMemorySnapshotHistoryTests : SnapshotHistoryContractTests
{
    protected override ISnapshotHistory Create(SnapshotHistoryOptions options, TimeProvider clock) => new InMemorySnapshotHistory(options, clock);
}

public sealed class SqliteSnapshotHistoryTests : SnapshotHistoryContractTests
{
    private readonly TempDirectory _directory = new();
    private readonly SqliteDatabaseProvider _databases = new();

    protected override ISnapshotHistory Create(SnapshotHistoryOptions options, TimeProvider clock) =>
        new SqliteSnapshotHistory(_databases.Get(_directory.Options), options, clock, NullLogger<SqliteSnapshotHistory>.Instance);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _databases.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task Reopen_SameFile_KeepsVersionsAndContinuesNumbering()
    {
        var options = new SnapshotHistoryOptions();
        var first = (SqliteSnapshotHistory)Create(options, Clock);
        await first.AppendAsync("m1", new SnapshotAppend(new byte[] { 1 }, 3, "policy"));
        await first.DisposeAsync();

        await using var reopened = (SqliteSnapshotHistory)Create(options, Clock);

        Assert.Equal(1, Assert.Single(await reopened.ListAsync("m1")).Version);
        Assert.Equal(2, (await reopened.AppendAsync("m1", new SnapshotAppend(new byte[] { 2 }, 4))).Version);
    }

    [Fact]
    public void Create_FileIsNotADatabase_ThrowsCorruptDataFileNamingTheFile()
    {
        File.WriteAllBytes(_directory.DatabasePath, Enumerable.Repeat((byte)0x5a, 4096).ToArray());

        var error = Assert.Throws<CorruptDataFileException>(() => Create(new SnapshotHistoryOptions(), Clock));

        Assert.Equal(_directory.DatabasePath, error.FilePath);
    }
}
