using EmStreaming.Runtime.DeadLetters;
using EmStreaming.Runtime.Storage;
using EmStreaming.Runtime.Streams;

namespace EmStreaming.Runtime.Hosting;

/// <summary>
/// A silo: hosts virtual activations of grains, delivers their streams, persists their snapshots.
/// A grain is activated on its first message or query and deactivated when idle; callers never create or destroy grains.
/// </summary>
public interface ISilo : IAsyncDisposable
{
    /// <summary>Appends to streams; items reach the grains implicitly subscribed to the stream's namespace.</summary>
    IStreamProducer Streams { get; }

    /// <summary>The snapshot store (read history without entering a grain's mailbox).</summary>
    ISnapshotStore Snapshots { get; }

    /// <summary>The clock of the silo.</summary>
    TimeProvider TimeProvider { get; }

    /// <summary>Opens storage, recovers partition checkpoints and starts the pulling agents and the idle collector.</summary>
    Task StartAsync(CancellationToken cancellationToken = default);

    /// <summary>Stops the agents, deactivates every grain (each persists in <see cref="Grains.Grain.OnDeactivateAsync"/>), commits checkpoints and closes storage.</summary>
    Task StopAsync(CancellationToken cancellationToken = default);

    /// <summary>Enqueues a message; completes once it is in the grain's mailbox (not once processed). Waits while the mailbox is full.</summary>
    /// <exception cref="BackpressureTimeoutException">The mailbox stayed full for <see cref="SiloOptions.EnqueueTimeout"/>.</exception>
    /// <exception cref="UnknownGrainTypeException">No grain type of that name is registered.</exception>
    ValueTask TellAsync(GrainId grain, object message, CancellationToken cancellationToken = default);

    /// <summary>Enqueues a message and awaits the value returned by <see cref="Grains.Grain.ReceiveAsync"/>; the grain's exception is rethrown here.</summary>
    /// <remarks>Do not call from inside a turn on the same grain (it would wait for itself): that throws <see cref="InvalidOperationException"/>.</remarks>
    ValueTask<TResult> AskAsync<TResult>(GrainId grain, object message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns the view the grain last published with <see cref="Grains.Grain.PublishView{TView}"/>, without entering its mailbox:
    /// never waits behind a turn, only for activation when the grain is not active. Null when nothing (of that type) was published.
    /// </summary>
    ValueTask<TView?> QueryViewAsync<TView>(GrainId grain, CancellationToken cancellationToken = default) where TView : class;

    /// <summary>Dead letters, newest first, optionally for one grain.</summary>
    ValueTask<IReadOnlyList<DeadLetter>> GetDeadLettersAsync(GrainId? grain = null, int max = 100, CancellationToken cancellationToken = default);

    /// <summary>Current counters.</summary>
    SiloStatistics GetStatistics();
}

/// <summary>A message or query named a grain type the silo does not know.</summary>
public sealed class UnknownGrainTypeException(string grainType)
    : ArgumentException($"No grain type '{grainType}' is registered with the silo. Register it with SiloBuilder.AddGrain.", "grain")
{
    /// <summary>The unknown type name.</summary>
    public string GrainType { get; } = grainType;
}
