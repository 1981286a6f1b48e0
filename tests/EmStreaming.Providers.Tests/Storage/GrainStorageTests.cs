using EmStreaming.Providers.Sqlite;
using EmStreaming.Providers.Storage;
using EmStreaming.Providers.TestKit;
using EmStreaming.Providers.Tests.TestSupport;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using Orleans.Storage;

namespace EmStreaming.Providers.Tests.Storage;

public sealed class InMemoryGrainStorageTests : GrainStorageContractTests
{
    protected override IGrainStorage Create(IGrainStorageSerializer serializer) => new InMemoryGrainStorage("test", serializer, Activators);
}

public sealed class SqliteGrainStorageTests : GrainStorageContractTests
{
    private readonly TempDirectory _directory = new();
    private readonly SqliteDatabaseProvider _databases = new();

    protected override IGrainStorage Create(IGrainStorageSerializer serializer) =>
        new SqliteGrainStorage("test", _databases.Get(_directory.Options), serializer, Activators, TimeProvider.System, NullLogger<SqliteGrainStorage>.Instance);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _databases.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task Reopen_SameFile_ReadsStateAndETag()
    {
        var written = new TestGrainState<CounterState>(new CounterState { Value = 7 });
        var first = (SqliteGrainStorage)New();
        await first.WriteStateAsync(StateName, Grain, written);
        await first.DisposeAsync();

        var read = new TestGrainState<CounterState>();
        await New().ReadStateAsync(StateName, Grain, read);

        Assert.Equal(7, read.State.Value);
        Assert.Equal(written.ETag, read.ETag);
    }

    [Fact]
    public async Task ReadStateAsync_StoredBytesFlipped_ChecksumMismatchIsCorruptGrainStateNamingTheGrain()
    {
        var storage = New();
        await storage.WriteStateAsync(StateName, Grain, new TestGrainState<BlobState>(new BlobState("some text")));
        using (var connection = new SqliteConnection($"Data Source={_directory.DatabasePath}"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // Damage one byte of the body but keep a valid encoding, so only the checksum can notice.
            command.CommandText = "UPDATE grain_state SET data = CAST(replace(CAST(data AS TEXT), 'some', 'same') AS BLOB)";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        var error = await Assert.ThrowsAsync<CorruptGrainStateException>(() => storage.ReadStateAsync(StateName, Grain, new TestGrainState<BlobState>()));

        Assert.Contains("checksum", error.Message);
        Assert.Equal(Grain.ToString(), error.GrainId);
    }

    [Fact]
    public async Task Open_FileIsNotADatabase_ThrowsCorruptDataFileNamingTheFile()
    {
        await File.WriteAllBytesAsync(_directory.DatabasePath, Enumerable.Range(0, 8192).Select(i => (byte)(i * 7)).ToArray());

        var error = Assert.Throws<CorruptDataFileException>(() => New());

        Assert.Equal(_directory.DatabasePath, error.FilePath);
        Assert.Contains(_directory.DatabasePath, error.Message);
    }
}
