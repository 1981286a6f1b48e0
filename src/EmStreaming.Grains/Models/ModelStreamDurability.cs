using EmStreaming.Providers.Streams;
using Orleans.Streams;

namespace EmStreaming.Grains.Models;

/// <summary>
/// Tells the Azure Queue receiver which delivered messages a model grain's stored state covers (<see cref="IModelControlGrain.AreStoredAsync"/>):
/// one interleaved call per stream and ask, with the (producer, sequence) of every record in the batches, which the grain may
/// hold until its next state write (the receiver's wait). A catch-up
/// marker or an event that is not a model record has no such identity: the receiver deletes it once delivered.
/// </summary>
internal sealed class ModelStreamDurability(IGrainFactory grains) : IStreamConsumerDurability
{
    public async Task<bool?[]?> AreDurableAsync(StreamId stream, IReadOnlyList<IBatchContainer> batches, TimeSpan wait)
    {
        if (stream.GetNamespace() != ModelStreams.Namespace || stream.GetKeyAsString() is not { Length: > 0 } model)
        {
            return null;
        }

        var records = new List<RecordKey>();
        var ranges = new (int Start, int Count)[batches.Count];
        for (var i = 0; i < batches.Count; i++)
        {
            var start = records.Count;
            foreach (var (item, _) in batches[i].GetEvents<object>())
            {
                if (KeyOf(item) is { } key)
                {
                    records.Add(key);
                }
            }

            ranges[i] = (start, records.Count - start);
        }

        if (records.Count == 0)
        {
            return null;
        }

        var stored = await grains.GetGrain<IModelControlGrain>(model).AreStoredAsync([.. records], wait).ConfigureAwait(false);
        var answers = new bool?[batches.Count];
        for (var i = 0; i < batches.Count; i++)
        {
            var (start, count) = ranges[i];
            answers[i] = count == 0 ? null : Array.TrueForAll(stored[start..(start + count)], s => s);
        }

        return answers;
    }

    private static RecordKey? KeyOf(object? item) => item switch
    {
        ModelStreamRecord { Kind: ModelRecordKind.CatchUpMarker } => null,
        ModelStreamRecord r => new RecordKey(r.ProducerId, r.Sequence),
        ObservationBatch b => new RecordKey(b.ProducerId, b.Sequence),
        _ => null,
    };
}
