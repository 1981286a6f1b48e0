using System.Text.Json;
using System.Text.Json.Serialization;

namespace EmStreaming.Grains.Registry;

/// <summary>A stored definition: its generation changes whenever the model is reset (new shape, delete and re-create).</summary>
internal sealed record RegistryEntry(string Id, ModelDefinition Definition, long Generation, DateTimeOffset CreatedAt);

/// <summary>
/// The answer recorded for an idempotency key, with a fingerprint of the request it answered; a null result is a reservation: a
/// request with that hash took the key and has not recorded its answer (it is still running, or its process died). A
/// reservation names the stream identity its request appends under (<paramref name="ProducerId"/>, <paramref name="Sequence"/>),
/// so a retry appends the very same record identity and the model's producer window applies the batch once, whichever copy
/// arrives first; null for a reservation of a batch with no row to append (and for reservations written before it existed).
/// </summary>
internal sealed record StoredAnswer(RequestFingerprint Request, AppendResult? Result, string? ProducerId = null, long Sequence = 0);

/// <summary>Model definitions and idempotency answers (embedded: the silo's SQLite file; tests: memory).</summary>
internal interface IModelRegistry
{
    ValueTask<RegistryEntry?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Creates or replaces; a different kind/dimension/components gets a new generation (the model resets).</summary>
    ValueTask<(PutModelOutcome Outcome, RegistryEntry Entry)> PutAsync(string id, ModelDefinition definition, bool onlyIfAbsent, CancellationToken cancellationToken);

    ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken);

    /// <summary>Ids greater than <paramref name="after"/> starting with <paramref name="prefix"/>, ordered, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<RegistryEntry>> ListAsync(string? prefix, string? after, int limit, CancellationToken cancellationToken);

    ValueTask<StoredAnswer?> GetAnswerAsync(string id, string key, CancellationToken cancellationToken);

    ValueTask SaveAnswerAsync(string id, string key, StoredAnswer answer, CancellationToken cancellationToken);

    /// <summary>
    /// Takes the key with <paramref name="reservation"/> (a <see cref="StoredAnswer"/> without a result) in one atomic step,
    /// shared by every silo: null when it was free (the reservation is recorded), else what is recorded for it (an answer, or
    /// another request's reservation, with its producer id and sequence).
    /// </summary>
    ValueTask<StoredAnswer?> ReserveAnswerAsync(string id, string key, StoredAnswer reservation, CancellationToken cancellationToken);
}

internal static class RegistryRules
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    /// <summary>
    /// Whether a replaced definition keeps the model's state (same generation, new policies) rather than starting a fresh
    /// model. Policies the grain reads from its definition as it goes (refit, snapshots, anomaly threshold, batch size) are
    /// replaced in place. What the estimator holds in its own state is part of the shape: the warm-up size, the step size
    /// (<c>halfLife</c> or <c>alpha</c>) and the seed. A replace that kept the state would go on with the old ones while the
    /// definition showed the new: a 200 for a change that did nothing.
    /// </summary>
    public static bool SameShape(ModelDefinition a, ModelDefinition b) =>
        a.Kind == b.Kind && a.Dimension == b.Dimension && a.Components == b.Components && a.Covariance == b.Covariance && a.WarmUp == b.WarmUp
        && a.HalfLife == b.HalfLife && a.Alpha == b.Alpha && a.Seed == b.Seed;
}

/// <summary>In-memory registry for tests and ephemeral silos.</summary>
internal sealed class InMemoryModelRegistry(TimeProvider timeProvider) : IModelRegistry
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, RegistryEntry> _models = new(StringComparer.Ordinal);
    private readonly Dictionary<(string, string), StoredAnswer> _answers = [];
    private long _generation;

    public ValueTask<RegistryEntry?> GetAsync(string id, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_models.GetValueOrDefault(id));
        }
    }

    public ValueTask<(PutModelOutcome, RegistryEntry)> PutAsync(string id, ModelDefinition definition, bool onlyIfAbsent, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_models.TryGetValue(id, out var existing))
            {
                if (onlyIfAbsent || existing.Definition == definition)
                {
                    return ValueTask.FromResult((PutModelOutcome.Unchanged, existing));
                }

                var generation = RegistryRules.SameShape(existing.Definition, definition) ? existing.Generation : ++_generation;
                var replaced = existing with { Definition = definition, Generation = generation };
                _models[id] = replaced;
                return ValueTask.FromResult((PutModelOutcome.Replaced, replaced));
            }

            var created = new RegistryEntry(id, definition, ++_generation, timeProvider.GetUtcNow());
            _models[id] = created;
            return ValueTask.FromResult((PutModelOutcome.Created, created));
        }
    }

    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            foreach (var key in _answers.Keys.Where(k => k.Item1 == id).ToList())
            {
                _answers.Remove(key);
            }

            return ValueTask.FromResult(_models.Remove(id));
        }
    }

    public ValueTask<IReadOnlyList<RegistryEntry>> ListAsync(string? prefix, string? after, int limit, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<RegistryEntry> page = [.. _models.Values
                .Where(e => (prefix is null || e.Id.StartsWith(prefix, StringComparison.Ordinal)) && (after is null || string.CompareOrdinal(e.Id, after) > 0))
                .Take(limit)];
            return ValueTask.FromResult(page);
        }
    }

    public ValueTask<StoredAnswer?> GetAnswerAsync(string id, string key, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_answers.GetValueOrDefault((id, key)));
        }
    }

    public ValueTask SaveAnswerAsync(string id, string key, StoredAnswer answer, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _answers[(id, key)] = answer;
            return ValueTask.CompletedTask;
        }
    }

    public ValueTask<StoredAnswer?> ReserveAnswerAsync(string id, string key, StoredAnswer reservation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        lock (_lock)
        {
            return ValueTask.FromResult(_answers.TryAdd((id, key), reservation with { Result = null }) ? null : _answers[(id, key)]);
        }
    }
}
