using Orleans.Runtime;
using Orleans.Streams;

namespace EmStreaming.Providers.Streams;

/// <summary>
/// Asked by a queue receiver that deletes a message only once its effect is stored (Azure Queues): which of the delivered
/// batches of a stream its consumer has made durable. The consumer side registers it (the model
/// grains do); without one, a batch counts as durable once delivered, as Orleans' own Azure Queue receiver assumes.
/// </summary>
public interface IStreamConsumerDurability
{
    /// <summary>
    /// One answer per batch, in order: true when the consumer's stored state covers every event of it, false when not yet,
    /// null when the consumer cannot tell (events it keeps no record of): such a batch is durable once delivered. A null
    /// array answers null for every batch. Batches may not have been delivered yet.
    /// </summary>
    /// <param name="stream">The stream whose consumer is asked.</param>
    /// <param name="batches">Batches of that stream the receiver read and has not deleted yet.</param>
    /// <param name="wait">
    /// How long the consumer may hold its answer while some batch is not durable yet, so it can answer right after its next
    /// store covers more of them (the receiver then deletes at once instead of asking again a period later); zero: at once.
    /// </param>
    /// <remarks>May throw (the consumer is unreachable): the receiver then keeps the batches and asks again later.</remarks>
    Task<bool?[]?> AreDurableAsync(StreamId stream, IReadOnlyList<IBatchContainer> batches, TimeSpan wait);
}

/// <summary>The default: a delivered batch is durable (consumers that store their effect before returning from delivery).</summary>
public sealed class DeliveredIsDurable : IStreamConsumerDurability
{
    public Task<bool?[]?> AreDurableAsync(StreamId stream, IReadOnlyList<IBatchContainer> batches, TimeSpan wait) => Task.FromResult<bool?[]?>(null);
}
