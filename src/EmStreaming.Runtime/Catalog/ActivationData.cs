using EmStreaming.Runtime.Grains;
using Microsoft.Extensions.Logging;

namespace EmStreaming.Runtime.Catalog;

/// <summary>
/// One activation of a grain: its mailbox, its lifecycle state and its message loop. The loop decides what runs next under
/// <see cref="_lock"/> and runs the turn outside it, so enqueuers never wait on a running turn.
/// </summary>
internal sealed partial class ActivationData
{
    private static readonly AsyncLocal<ActivationData?> CurrentTurn = new();

    private readonly object _lock = new();
    private readonly Queue<WorkItem> _queue = new();
    private readonly SemaphoreSlim _slots;
    private readonly TaskCompletionSource _activated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _deactivated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly GrainRegistration _registration;
    private ActivationState _state = ActivationState.Activating;
    private bool _running;
    private long _lastActivity;
    private int _pendingJobs;
    private bool _deactivationRequested;
    private object? _view;
    private Grain? _grain;

    public ActivationData(Silo silo, GrainRegistration registration, GrainId id)
    {
        Silo = silo;
        _registration = registration;
        Id = id;
        Logger = silo.LoggerFactory.CreateLogger(registration.LoggerCategory);
        _slots = new SemaphoreSlim(registration.MailboxCapacity);
        _lastActivity = silo.TimeProvider.GetTimestamp();
        Enqueue(new ActivateWork());
    }

    public GrainId Id { get; }

    public Silo Silo { get; }

    public ILogger Logger { get; }

    /// <summary>Completes when <see cref="Grain.OnActivateAsync"/> has run; faults when activation failed.</summary>
    public Task Activated => _activated.Task;

    /// <summary>Completes when the activation has left the catalog (deactivated, failed or killed).</summary>
    public Task Deactivated => _deactivated.Task;

    public object? View => Volatile.Read(ref _view);

    public void PublishView(object view) => Volatile.Write(ref _view, view);

    /// <summary>A query counts as activity for idle collection, without entering the mailbox.</summary>
    public void Touch() => Volatile.Write(ref _lastActivity, Silo.TimeProvider.GetTimestamp());

    public void EnsureInTurn(string operation)
    {
        if (!ReferenceEquals(CurrentTurn.Value, this))
        {
            throw new InvalidOperationException($"{operation} must be called inside a turn of {Id} (not from a background job or another thread).");
        }
    }

    public static bool IsInTurnOf(GrainId id) => CurrentTurn.Value?.Id == id;

    /// <summary>Adds an external item, waiting for a free slot while the mailbox is full.</summary>
    /// <returns>False when the activation is deactivating or gone: the caller must retry on a new activation.</returns>
    public async ValueTask<bool> EnqueueAsync(WorkItem item, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (!_slots.Wait(0, CancellationToken.None))
        {
            await WaitForSlotAsync(timeout, cancellationToken).ConfigureAwait(false);
        }

        bool schedule;
        lock (_lock)
        {
            if (_state is ActivationState.Deactivating or ActivationState.Invalid)
            {
                _slots.Release();
                return false;
            }

            _queue.Enqueue(item);
            Silo.Counters.Queued();
            _lastActivity = Silo.TimeProvider.GetTimestamp();
            schedule = !_running;
            _running = true;
        }

        if (schedule)
        {
            Schedule();
        }

        return true;
    }

    /// <summary>Adds an internal item (timer tick, job result). Dropped only when the activation is gone.</summary>
    public bool EnqueueInternal(WorkItem item)
    {
        lock (_lock)
        {
            if (_state is ActivationState.Invalid || (_state is ActivationState.Deactivating && item is TimerWork))
            {
                return false;
            }
        }

        Enqueue(item);
        return true;
    }

    /// <summary>Starts idle deactivation when nothing is queued or running, no job is pending and the activation has been idle long enough.</summary>
    public bool TryStartIdleDeactivation(long now)
    {
        lock (_lock)
        {
            var idle = Silo.TimeProvider.GetElapsedTime(_lastActivity, now) >= _registration.CollectionAge;
            if (_state != ActivationState.Valid || _running || _queue.Count > 0 || _pendingJobs > 0 || !idle
                || _slots.CurrentCount < _registration.MailboxCapacity)
            {
                return false;
            }

            _state = ActivationState.Deactivating;
            _queue.Enqueue(new DeactivateWork(DeactivationReason.Idle));
            Silo.Counters.Queued();
            _running = true;
        }

        Schedule();
        return true;
    }

    /// <summary>Deactivates after the items already queued (graceful shutdown).</summary>
    public void StartDeactivation(DeactivationReason reason)
    {
        bool schedule;
        lock (_lock)
        {
            if (_state is ActivationState.Deactivating or ActivationState.Invalid)
            {
                return;
            }

            _state = ActivationState.Deactivating;
            _queue.Enqueue(new DeactivateWork(reason));
            Silo.Counters.Queued();
            schedule = !_running;
            _running = true;
        }

        if (schedule)
        {
            Schedule();
        }
    }

    /// <summary>Crash simulation: forget everything queued, run nothing more, persist nothing.</summary>
    public void Kill()
    {
        WorkItem[] dropped;
        lock (_lock)
        {
            _state = ActivationState.Invalid;
            dropped = [.. _queue];
            _queue.Clear();
            Silo.Counters.Dequeued(dropped.Length);
        }

        foreach (var item in dropped)
        {
            (item as MessageWork)?.Reply?.TrySetException(new ObjectDisposedException("silo", "The silo was killed before the message was processed."));
        }

        DisposeTimers();
        _activated.TrySetException(new ObjectDisposedException("silo", "The silo was killed."));
        _activated.Task.Exception?.Handle(_ => true);
        _deactivated.TrySetResult();
    }

    public void RequestDeactivation()
    {
        lock (_lock)
        {
            _deactivationRequested = true;
        }
    }

    private async Task WaitForSlotAsync(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (timeout is not { } limit)
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        using var timeoutSource = new CancellationTokenSource(limit, Silo.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeoutSource.Token, cancellationToken);
        try
        {
            await _slots.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new BackpressureTimeoutException($"mailbox of {Id}", _registration.MailboxCapacity, limit, "SiloOptions.EnqueueTimeout or the mailbox capacity");
        }
    }

    private void Enqueue(WorkItem item)
    {
        bool schedule;
        lock (_lock)
        {
            _queue.Enqueue(item);
            Silo.Counters.Queued();
            schedule = !_running;
            _running = true;
        }

        if (schedule)
        {
            Schedule();
        }
    }

    private void Schedule() => ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.RunLoopAsync(), this, preferLocal: false);

    private async Task RunLoopAsync()
    {
        while (true)
        {
            WorkItem item;
            lock (_lock)
            {
                if (_queue.Count == 0 && _deactivationRequested && _state == ActivationState.Valid && _pendingJobs == 0)
                {
                    // DeactivateOnIdle: decided here, after the requesting turn, so no other turn can slip in between.
                    _state = ActivationState.Deactivating;
                    _queue.Enqueue(new DeactivateWork(DeactivationReason.Requested));
                    Silo.Counters.Queued();
                }

                if (_queue.Count == 0 || _state == ActivationState.Invalid)
                {
                    _running = false;
                    return;
                }

                item = _queue.Dequeue();
                Silo.Counters.Dequeued();
            }

            if (item.External)
            {
                _slots.Release();
            }

            // RunTurnAsync catches everything: the loop must never die, or the activation would stop processing for good.
            await RunTurnAsync(item).ConfigureAwait(false);
        }
    }
}
