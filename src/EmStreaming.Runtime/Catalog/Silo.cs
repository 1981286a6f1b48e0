using System.Collections.Concurrent;
using EmStreaming.Runtime.DeadLetters;
using EmStreaming.Runtime.Grains;
using EmStreaming.Runtime.Hosting;
using EmStreaming.Runtime.Scheduling;
using EmStreaming.Runtime.Storage;
using EmStreaming.Runtime.Streams;
using Microsoft.Extensions.Logging;

namespace EmStreaming.Runtime.Catalog;

/// <summary>The silo: catalog of activations, pulling agents, idle collector and checkpointer.</summary>
internal sealed partial class Silo : ISilo
{
    private const int Created = 0, Running = 1, Stopping = 2, Stopped = 3;

    private readonly ConcurrentDictionary<GrainId, ActivationData> _activations = new();
    private readonly object _createLock = new();
    private readonly IReadOnlyDictionary<string, GrainRegistration> _registrations;
    private readonly IReadOnlyDictionary<string, string[]> _subscriptions;
    private readonly IServiceProvider _services;
    private readonly IStreamLog _log;
    private readonly SiloResources _owned;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly CancellationTokenSource _agentsStop = new();
    private readonly HashSet<string> _unsubscribedWarned = [];
    private PartitionTracker[]? _trackers;
    private Task[] _agents = [];
    private ITimer? _collector;
    private ITimer? _checkpointer;
    private int _state;
    private int _shutdownLongTurns;
    private long _shutdownLongestTicks;
    private int _checkpointing;

    public Silo(
        SiloOptions options, StreamOptions streamOptions, IReadOnlyDictionary<string, GrainRegistration> registrations,
        IReadOnlyDictionary<string, string[]> subscriptions, IServiceProvider services, TimeProvider timeProvider, ILoggerFactory loggerFactory,
        IStreamLog log, ISnapshotStore snapshots, IDeadLetterStore deadLetters, SiloResources owned)
    {
        Options = options;
        StreamOptions = streamOptions;
        _registrations = registrations;
        _subscriptions = subscriptions;
        _services = services;
        TimeProvider = timeProvider;
        LoggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("EmStreaming.Runtime.Silo");
        _log = log;
        Snapshots = snapshots;
        DeadLetters = deadLetters;
        _owned = owned;
        BackgroundJobs = new BackgroundJobScheduler(options.MaxBackgroundJobs);
    }

    public SiloOptions Options { get; }

    public StreamOptions StreamOptions { get; }

    public TimeProvider TimeProvider { get; }

    public ILoggerFactory LoggerFactory { get; }

    public IStreamProducer Streams => _log;

    public ISnapshotStore Snapshots { get; }

    public IDeadLetterStore DeadLetters { get; }

    public BackgroundJobScheduler BackgroundJobs { get; }

    public SiloCounters Counters { get; } = new();

    public CancellationToken ShutdownToken => _shutdown.Token;

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, Running, Created) != Created)
        {
            throw new InvalidOperationException("The silo can be started once.");
        }

        var trackers = new PartitionTracker[_log.PartitionCount];
        for (var p = 0; p < trackers.Length; p++)
        {
            trackers[p] = new PartitionTracker(await _log.GetCheckpointAsync(p, cancellationToken).ConfigureAwait(false));
        }

        _trackers = trackers;
        _agents = [.. Enumerable.Range(0, trackers.Length).Select(p => Task.Run(() => RunAgentAsync(p, trackers[p], _agentsStop.Token)))];
        _collector = TimeProvider.CreateTimer(static s => ((Silo)s!).CollectIdle(), this, Options.CollectionQuantum, Options.CollectionQuantum);
        _checkpointer = TimeProvider.CreateTimer(
            static s => _ = ((Silo)s!).CommitCheckpointsAsync(CancellationToken.None), this, StreamOptions.CheckpointInterval, StreamOptions.CheckpointInterval);
        _logger.LogInformation("Silo started: {Partitions} partitions, {GrainTypes} grain types", trackers.Length, _registrations.Count);
    }

    /// <summary>True while <see cref="StopAsync"/> deactivates every activation.</summary>
    internal bool IsStopping => Volatile.Read(ref _state) == Stopping;

    /// <summary>
    /// A turn over the long-turn threshold while the silo stops: expected, since every activation persists at once behind
    /// the same group commits, so it is counted and reported once by <see cref="StopAsync"/> instead of once per grain.
    /// </summary>
    internal void ShutdownLongTurn(TimeSpan elapsed)
    {
        Interlocked.Increment(ref _shutdownLongTurns);
        var ticks = elapsed.Ticks;
        var seen = Interlocked.Read(ref _shutdownLongestTicks);
        while (ticks > seen)
        {
            var previous = Interlocked.CompareExchange(ref _shutdownLongestTicks, ticks, seen);
            if (previous == seen)
            {
                break;
            }

            seen = previous;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, Stopping, Running) != Running)
        {
            await KillAsync().ConfigureAwait(false);
            return;
        }

        // Stop pulling first, then let every activation drain its mailbox and persist, then record how far the log is safe.
        _agentsStop.Cancel();
        await WhenAllQuietly(_agents).ConfigureAwait(false);
        _collector?.Dispose();
        _checkpointer?.Dispose();
        foreach (var activation in _activations.Values)
        {
            activation.StartDeactivation(DeactivationReason.Shutdown);
        }

        try
        {
            await Task.WhenAll(_activations.Values.Select(a => a.Deactivated)).WaitAsync(cancellationToken).ConfigureAwait(false);
            await CommitCheckpointsAsync(cancellationToken).ConfigureAwait(false);
            if (Volatile.Read(ref _shutdownLongTurns) is > 0 and var slow)
            {
                _logger.LogInformation(
                    "Shutdown: {Count} activations took longer than the long-turn threshold to persist (longest {Elapsed}); they shared the storage's group commits",
                    slow, TimeSpan.FromTicks(Interlocked.Read(ref _shutdownLongestTicks)));
            }
        }
        finally
        {
            await ReleaseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Crash simulation: no deactivation, no flush, no checkpoint; storage is closed under the running turns.</summary>
    internal async Task KillAsync()
    {
        if (Interlocked.Exchange(ref _state, Stopped) == Stopped)
        {
            return;
        }

        _agentsStop.Cancel();
        _collector?.Dispose();
        _checkpointer?.Dispose();
        foreach (var activation in _activations.Values)
        {
            activation.Kill();
        }

        _activations.Clear();
        await WhenAllQuietly(_agents).ConfigureAwait(false);
        await ReleaseAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _state) == Running)
        {
            await StopAsync().ConfigureAwait(false);
        }
        else
        {
            await KillAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask TellAsync(GrainId grain, object message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        await SendAsync(grain, new MessageWork(message, null), Options.EnqueueTimeout, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<TResult> AskAsync<TResult>(GrainId grain, object message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (ActivationData.IsInTurnOf(grain))
        {
            throw new InvalidOperationException($"{grain} cannot Ask itself from inside its own turn: turns are not re-entrant, it would wait for itself.");
        }

        var reply = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await SendAsync(grain, new MessageWork(message, reply), Options.EnqueueTimeout, cancellationToken).ConfigureAwait(false);
        var result = await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return result switch
        {
            TResult typed => typed,
            null => default!,
            _ => throw new InvalidCastException($"{grain} answered {result.GetType().Name}, not {typeof(TResult).Name}."),
        };
    }

    public async ValueTask<TView?> QueryViewAsync<TView>(GrainId grain, CancellationToken cancellationToken = default) where TView : class
    {
        var activation = GetOrCreateActivation(grain);
        activation.Touch();
        await activation.Activated.WaitAsync(cancellationToken).ConfigureAwait(false);
        return activation.View as TView;
    }

    public ValueTask<IReadOnlyList<DeadLetter>> GetDeadLettersAsync(GrainId? grain = null, int max = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
        return DeadLetters.ListAsync(grain, max, cancellationToken);
    }

    public SiloStatistics GetStatistics() => Counters.Snapshot(_activations.Count, BackgroundJobs.Running);

    public Grain CreateGrain(GrainRegistration registration, GrainId id) => registration.Factory(_services, id);

    public void RemoveActivation(ActivationData activation) =>
        _activations.TryRemove(new KeyValuePair<GrainId, ActivationData>(activation.Id, activation));

    /// <summary>A grain persisted (or restored) a snapshot including <paramref name="position"/> of its stream in <paramref name="streamNamespace"/>.</summary>
    public void OnDurable(GrainId grain, string streamNamespace, long position)
    {
        var trackers = _trackers;
        if (trackers is null || !_subscriptions.ContainsKey(streamNamespace))
        {
            return;
        }

        trackers[_log.GetPartition(grain.Key)].OnDurable(grain.Type, new StreamId(streamNamespace, grain.Key), position);
    }

    /// <summary>Commits every partition's safe position (trimming the log below it). Runs on a timer, at stop, and from tests.</summary>
    internal async Task CommitCheckpointsAsync(CancellationToken cancellationToken)
    {
        var trackers = _trackers;
        if (trackers is null || Interlocked.Exchange(ref _checkpointing, 1) == 1)
        {
            return;
        }

        try
        {
            for (var p = 0; p < trackers.Length; p++)
            {
                var safe = trackers[p].SafePosition;
                if (safe > trackers[p].Committed)
                {
                    await _log.CommitCheckpointAsync(p, safe, cancellationToken).ConfigureAwait(false);
                    trackers[p].Committed = safe;
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogWarning(ex, "Committing stream checkpoints failed; the log is trimmed at the next attempt");
        }
        finally
        {
            Volatile.Write(ref _checkpointing, 0);
        }
    }

    internal void CollectIdle()
    {
        var now = TimeProvider.GetTimestamp();
        foreach (var activation in _activations.Values)
        {
            activation.TryStartIdleDeactivation(now);
        }
    }

    private async ValueTask<ActivationData> SendAsync(GrainId grain, WorkItem work, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        while (true)
        {
            var activation = GetOrCreateActivation(grain);
            if (await activation.EnqueueAsync(work, timeout, cancellationToken).ConfigureAwait(false))
            {
                return activation;
            }

            // The activation is deactivating: wait until it has persisted and left, then a new one loads that state.
            await activation.Deactivated.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private ActivationData GetOrCreateActivation(GrainId grain)
    {
        GrainKey.Validate(grain.Type, "grain type");
        GrainKey.Validate(grain.Key, "grain key");
        var state = Volatile.Read(ref _state);
        if (state != Running)
        {
            throw state == Created
                ? new InvalidOperationException("The silo is not started: call StartAsync first.")
                : new ObjectDisposedException(nameof(Silo), "The silo is stopping or stopped.");
        }

        if (_activations.TryGetValue(grain, out var existing))
        {
            return existing;
        }

        if (!_registrations.TryGetValue(grain.Type, out var registration))
        {
            throw new UnknownGrainTypeException(grain.Type);
        }

        lock (_createLock)
        {
            if (_activations.TryGetValue(grain, out existing))
            {
                return existing;
            }

            var activation = new ActivationData(this, registration, grain);
            _activations[grain] = activation;
            return activation;
        }
    }

    private async Task ReleaseAsync()
    {
        Volatile.Write(ref _state, Stopped);
        _shutdown.Cancel();
        await _owned.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task WhenAllQuietly(Task[] tasks)
    {
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Agents end by cancellation; their errors were logged where they happened.
        }
    }
}

/// <summary>Storage the silo created and therefore closes.</summary>
internal sealed class SiloResources(params IAsyncDisposable[] resources) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        foreach (var resource in resources)
        {
            await resource.DisposeAsync().ConfigureAwait(false);
        }
    }
}
