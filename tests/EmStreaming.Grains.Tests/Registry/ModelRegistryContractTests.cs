using Azure.Data.Tables;
using EmStreaming.Grains.Registry;

namespace EmStreaming.Grains.Tests.RegistryContracts;

/// <summary>
/// The <see cref="IModelRegistry"/> contract, run against every implementation: in-memory, SQLite (the embedded silo's
/// file) and Azure Tables (the cluster's, on Azurite). Derive a sealed class and implement <see cref="Create"/>.
/// </summary>
public abstract class ModelRegistryContractTests
{
    private static readonly ModelDefinition Gmm2 = new() { Kind = ModelKind.Gmm, Dimension = 2, Components = 2 };

    protected FakeTimeProvider Clock { get; } = new();

    /// <summary>A fresh, empty registry (a second call in a test opens the same store, as another silo would).</summary>
    internal abstract IModelRegistry Create();

    /// <summary>Stores, the way builds before request fingerprints did, a reservation without identity and its 64-bit request hash.</summary>
    internal abstract Task WriteLegacyReservationAsync(string id, string key, ulong hash);

    private static RequestFingerprint F(ulong n) => new((UInt128)n << 64 | n);

    [Fact]
    public async Task GetAnswerAsync_ReservationStoredBeforeFingerprints_ReadsItsLegacyHash()
    {
        var registry = Create();
        await registry.PutAsync("m1", Gmm2, onlyIfAbsent: false, default);
        await WriteLegacyReservationAsync("m1", "k1", ulong.MaxValue - 5);

        var read = await Create().GetAnswerAsync("m1", "k1", default);

        Assert.Equal(new StoredAnswer(RequestFingerprint.FromLegacy(ulong.MaxValue - 5), null), read);
        Assert.Equal(read, await registry.ReserveAnswerAsync("m1", "k1", new StoredAnswer(F(3), null, "svc", 1), default));
    }

    [Fact]
    public async Task GetAsync_Unknown_ReturnsNull()
    {
        Assert.Null(await Create().GetAsync("nope", default));
        Assert.Null(await Create().GetAnswerAsync("nope", "k", default));
    }

    [Fact]
    public async Task PutAsync_CreateThenSameThenPolicyChangeThenShapeChange_OutcomesAndGenerations()
    {
        var registry = Create();

        var (created, first) = await registry.PutAsync("m1", Gmm2, onlyIfAbsent: false, default);
        var (same, again) = await registry.PutAsync("m1", Gmm2, onlyIfAbsent: false, default);
        var (policy, tuned) = await registry.PutAsync("m1", Gmm2 with { AnomalyThreshold = 12 }, onlyIfAbsent: false, default);
        var (shape, reshaped) = await registry.PutAsync("m1", Gmm2 with { Dimension = 3 }, onlyIfAbsent: false, default);

        Assert.Equal(PutModelOutcome.Created, created);
        Assert.Equal(PutModelOutcome.Unchanged, same);
        Assert.Equal(first, again);
        Assert.Equal(PutModelOutcome.Replaced, policy);
        Assert.Equal(first.Generation, tuned.Generation);
        Assert.Equal(12, tuned.Definition.AnomalyThreshold);
        Assert.Equal(PutModelOutcome.Replaced, shape);
        Assert.True(reshaped.Generation > first.Generation);
        Assert.Equal(first.CreatedAt, reshaped.CreatedAt);
        Assert.Equal(reshaped, await Create().GetAsync("m1", default));
    }

    [Fact]
    public async Task PutAsync_OnlyIfAbsentAndExists_KeepsTheStoredDefinition()
    {
        var registry = Create();
        await registry.PutAsync("m1", Gmm2, onlyIfAbsent: false, default);

        var (outcome, entry) = await registry.PutAsync("m1", Gmm2 with { Components = 5 }, onlyIfAbsent: true, default);

        Assert.Equal(PutModelOutcome.Unchanged, outcome);
        Assert.Equal(2, entry.Definition.Components);
    }

    [Fact]
    public async Task DeleteAsync_ThenRecreate_GoneWithItsAnswersAndNewGeneration()
    {
        var registry = Create();
        var (_, first) = await registry.PutAsync("m1", Gmm2, onlyIfAbsent: false, default);
        await registry.SaveAnswerAsync("m1", "key-1", new StoredAnswer(F(7), new AppendResult(3, [])), default);

        Assert.True(await registry.DeleteAsync("m1", default));
        Assert.False(await registry.DeleteAsync("m1", default));
        Assert.Null(await registry.GetAsync("m1", default));
        Assert.Null(await registry.GetAnswerAsync("m1", "key-1", default));
        var (outcome, recreated) = await registry.PutAsync("m1", Gmm2, onlyIfAbsent: false, default);
        Assert.Equal(PutModelOutcome.Created, outcome);
        Assert.True(recreated.Generation > first.Generation);
    }

    [Fact]
    public async Task ListAsync_PrefixAfterAndLimit_OrderedPages()
    {
        var registry = Create();
        foreach (var id in (string[])["b:2", "a:1", "b:10", "b:1", "c", "b"])
        {
            await registry.PutAsync(id, Gmm2, onlyIfAbsent: false, default);
        }

        Assert.Equal(["a:1", "b", "b:1", "b:10", "b:2", "c"], (await registry.ListAsync(null, null, 100, default)).Select(e => e.Id));
        Assert.Equal(["b:1", "b:10"], (await registry.ListAsync("b:", null, 2, default)).Select(e => e.Id));
        Assert.Equal(["b:2"], (await registry.ListAsync("b:", "b:10", 2, default)).Select(e => e.Id));
        Assert.Empty(await registry.ListAsync("z", null, 10, default));
    }

    [Fact]
    public async Task SaveAnswerAsync_KeysWithAnyCharacter_RoundTripAndReplace()
    {
        var registry = Create();
        await registry.PutAsync("m1", Gmm2, onlyIfAbsent: false, default);
        const string key = "batch/7#?\\ é";
        var answer = new StoredAnswer(F(ulong.MaxValue - 3), new AppendResult(2, [new RejectedRow(1, "row has no observed value")], 40, false));

        await registry.SaveAnswerAsync("m1", key, answer, default);
        var read = await Create().GetAnswerAsync("m1", key, default);

        Assert.NotNull(read);
        Assert.Equal(answer.Request, read.Request);
        Assert.Equal(answer.Result!.Accepted, read.Result!.Accepted);
        Assert.Equal(answer.Result!.Rejected, read.Result!.Rejected);
        Assert.Null(await registry.GetAnswerAsync("m1", "batch/7", default));
        await registry.SaveAnswerAsync("m1", key, answer with { Request = F(1) }, default);
        Assert.Equal(F(1), (await registry.GetAnswerAsync("m1", key, default))!.Request);
    }

    [Fact]
    public async Task PutAsync_ManyModelsConcurrentlyFromTwoInstances_AllCreatedWithDistinctGenerations()
    {
        var one = Create();
        var two = Create();

        var created = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            (i % 2 == 0 ? one : two).PutAsync($"m{i:D2}", Gmm2, onlyIfAbsent: false, default).AsTask()));

        Assert.All(created, c => Assert.Equal(PutModelOutcome.Created, c.Outcome));
        Assert.Equal(20, created.Select(c => c.Entry.Generation).Distinct().Count());
        Assert.Equal(20, (await one.ListAsync(null, null, 100, default)).Count);
    }

    [Fact]
    public async Task ReserveAnswerAsync_FirstTakesTheKey_OthersSeeItsReservationThenItsAnswer()
    {
        var registry = Create();
        await registry.PutAsync("m1", Gmm2, onlyIfAbsent: false, default);
        Assert.Null(await registry.ReserveAnswerAsync("m1", "batch/1", new StoredAnswer(F(7), null, "svc-a:1", 42), default));
        var other = Create(); // another silo's
        // The reservation names the record identity the first request appends under, so another silo's retry reuses it.
        Assert.Equal(new StoredAnswer(F(7), null, "svc-a:1", 42), await other.ReserveAnswerAsync("m1", "batch/1", new StoredAnswer(F(8), null, "svc-b", 1), default));
        Assert.Equal(new StoredAnswer(F(7), null, "svc-a:1", 42), await other.GetAnswerAsync("m1", "batch/1", default));
        // A batch with nothing to append reserves without an identity.
        Assert.Null(await registry.ReserveAnswerAsync("m1", "batch/2", new StoredAnswer(F(9), null), default));
        Assert.Equal(new StoredAnswer(F(9), null), await other.GetAnswerAsync("m1", "batch/2", default));

        var answer = new StoredAnswer(F(7), new AppendResult(2, [], 1, false));
        await registry.SaveAnswerAsync("m1", "batch/1", answer, default);
        var stored = await other.ReserveAnswerAsync("m1", "batch/1", new StoredAnswer(F(7), null, "svc-b", 2), default);
        Assert.Equal(F(7), stored!.Request);
        Assert.Equal(2, stored.Result!.Accepted);
    }
}

public sealed class InMemoryModelRegistryTests : ModelRegistryContractTests
{
    private InMemoryModelRegistry? _registry;

    // One store per test: a second Create returns the same instance (there is nothing else to reopen).
    internal override IModelRegistry Create() => _registry ??= new InMemoryModelRegistry(Clock);

    internal override Task WriteLegacyReservationAsync(string id, string key, ulong hash) =>
        Create().SaveAnswerAsync(id, key, new StoredAnswer(RequestFingerprint.FromLegacy(hash), null), default).AsTask();
}

public sealed class SqliteModelRegistryTests : ModelRegistryContractTests, IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "emstream-registry-" + Guid.NewGuid().ToString("N"));

    internal override IModelRegistry Create() => new SqliteModelRegistry(Path.Combine(_directory, "emstreaming.db"), fullSync: false, Clock);

    internal override Task WriteLegacyReservationAsync(string id, string key, ulong hash)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_directory, "emstreaming.db")};Pooling=false");
        connection.Open();
        using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO em_answers (id, key, request_hash, answer) VALUES ($id, $key, $h, '')";
        insert.Parameters.AddWithValue("$id", id);
        insert.Parameters.AddWithValue("$key", key);
        insert.Parameters.AddWithValue("$h", unchecked((long)hash));
        Assert.Equal(1, insert.ExecuteNonQuery());
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>The cluster's registry on Azurite: one table per test; a second instance is another silo.</summary>
public sealed class TableModelRegistryTests(AzuriteFixture azurite) : ModelRegistryContractTests, IClassFixture<AzuriteFixture>
{
    private readonly string _table = "registry" + Guid.NewGuid().ToString("N")[..16];

    internal override IModelRegistry Create() => new TableModelRegistry(new TableClient(azurite.ConnectionString, _table), Clock);

    internal override async Task WriteLegacyReservationAsync(string id, string key, ulong hash)
    {
        var row = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(key)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        await new TableClient(azurite.ConnectionString, _table).AddEntityAsync(new TableEntity("ans:" + id, row) { ["RequestHash"] = unchecked((long)hash) });
    }
}
