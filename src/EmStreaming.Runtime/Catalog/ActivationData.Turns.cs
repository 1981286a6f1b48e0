using EmStreaming.Runtime.DeadLetters;
using EmStreaming.Runtime.Grains;
using Microsoft.Extensions.Logging;

namespace EmStreaming.Runtime.Catalog;

internal sealed partial class ActivationData
{
    private readonly List<GrainTimer> _timers = [];

    public IGrainTimer RegisterTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new GrainTimer(this, Silo.TimeProvider, callback, dueTime, period);
        lock (_timers)
        {
            _timers.Add(timer);
        }

        return timer;
    }

    public void RemoveTimer(GrainTimer timer)
    {
        lock (_timers)
        {
            _timers.Remove(timer);
        }
    }

    public void StartBackgroundJob<TResult>(Func<CancellationToken, Task<TResult>> work, Func<BackgroundJobResult<TResult>, CancellationToken, Task> onCompleted)
    {
        lock (_lock)
        {
            _pendingJobs++;
        }

        _ = RunJobAsync();

        async Task RunJobAsync()
        {
            var result = await Silo.BackgroundJobs.RunAsync(work, Silo.ShutdownToken).ConfigureAwait(false);
            var delivered = EnqueueInternal(new CallbackWork(async ct =>
            {
                try
                {
                    await onCompleted(result, ct).ConfigureAwait(false);
                }
                finally
                {
                    lock (_lock)
                    {
                        _pendingJobs--;
                    }
                }
            }));
            if (!delivered)
            {
                Logger.LogWarning("Background job result for {Grain} dropped: the activation ended (silo stopped or killed)", Id);
            }
        }
    }

    private void DisposeTimers()
    {
        GrainTimer[] timers;
        lock (_timers)
        {
            timers = [.. _timers];
        }

        foreach (var timer in timers)
        {
            timer.Dispose();
        }
    }

    private async Task RunTurnAsync(WorkItem item)
    {
        var started = Silo.TimeProvider.GetTimestamp();
        CurrentTurn.Value = this;
        var token = Silo.ShutdownToken;
        try
        {
            switch (item)
            {
                case ActivateWork:
                    await ActivateAsync(token).ConfigureAwait(false);
                    return;
                case DeactivateWork deactivate:
                    await DeactivateAsync(deactivate.Reason).ConfigureAwait(false);
                    return;
                case MessageWork message:
                    var result = await _grain!.InvokeReceiveAsync(message.Message, token).ConfigureAwait(false);
                    message.Reply?.TrySetResult(result);
                    break;
                case StreamWork stream:
                    await ApplyStreamItemAsync(stream.Item, token).ConfigureAwait(false);
                    break;
                case TimerWork timer:
                    if (timer.Timer.IsDisposed)
                    {
                        return;
                    }

                    try
                    {
                        await timer.Timer.Callback(token).ConfigureAwait(false);
                    }
                    finally
                    {
                        timer.Timer.OnTickCompleted();
                    }

                    break;
                case CallbackWork callback:
                    await callback.Callback(token).ConfigureAwait(false);
                    break;
            }

            Silo.Counters.TurnCompleted();
        }
        catch (Exception ex)
        {
            await OnTurnFailedAsync(item, ex).ConfigureAwait(false);
        }
        finally
        {
            CurrentTurn.Value = null;
            var elapsed = Silo.TimeProvider.GetElapsedTime(started);
            if (elapsed > Silo.Options.LongTurnThreshold && Silo.IsStopping)
            {
                Silo.ShutdownLongTurn(elapsed);
                Logger.LogDebug("Long turn at shutdown: {Grain} spent {Elapsed} on {Work}", Id, elapsed, Describe(item));
            }
            else if (elapsed > Silo.Options.LongTurnThreshold)
            {
                Silo.Counters.LongTurn();
                Logger.LogWarning("Long turn: {Grain} spent {Elapsed} on {Work} (threshold {Threshold})", Id, elapsed, Describe(item), Silo.Options.LongTurnThreshold);
            }

            if (item.External)
            {
                Volatile.Write(ref _lastActivity, Silo.TimeProvider.GetTimestamp());
            }
        }
    }

    private async Task ActivateAsync(CancellationToken cancellationToken)
    {
        try
        {
            _grain = Silo.CreateGrain(_registration, Id);
            _grain.Attach(this);
            await _grain.InvokeActivateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Logger.LogError(ex, "Activation of {Grain} failed; its queued messages go to the dead letters", Id);
            WorkItem[] queued;
            lock (_lock)
            {
                _state = ActivationState.Invalid;
                queued = [.. _queue];
                _queue.Clear();
                Silo.Counters.Dequeued(queued.Length);
            }

            DisposeTimers();
            _activated.TrySetException(ex);
            _activated.Task.Exception?.Handle(_ => true);
            foreach (var item in queued)
            {
                await OnTurnFailedAsync(item, new InvalidOperationException($"Activation of {Id} failed: {ex.Message}", ex)).ConfigureAwait(false);
            }

            Silo.RemoveActivation(this);
            _deactivated.TrySetResult();
            return;
        }

        lock (_lock)
        {
            if (_state == ActivationState.Activating)
            {
                _state = ActivationState.Valid;
            }
        }

        Silo.Counters.Activated();
        _activated.TrySetResult();
    }

    private async Task DeactivateAsync(DeactivationReason reason)
    {
        DisposeTimers();
        try
        {
            if (_grain is not null && _activated.Task.IsCompletedSuccessfully)
            {
                await _grain.InvokeDeactivateAsync(reason, Silo.ShutdownToken)
                    .WaitAsync(Silo.Options.DeactivationTimeout, Silo.TimeProvider).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            Logger.LogError(ex, "OnDeactivateAsync of {Grain} failed ({Reason}); state since the last snapshot is not persisted", Id, reason);
        }
        finally
        {
            lock (_lock)
            {
                _state = ActivationState.Invalid;
            }

            Silo.Counters.Deactivated();
            Silo.RemoveActivation(this);
            _deactivated.TrySetResult();
        }
    }

    private async Task OnTurnFailedAsync(WorkItem item, Exception ex)
    {
        Silo.Counters.TurnFailed();
        (item as MessageWork)?.Reply?.TrySetException(ex);
        try
        {
            Logger.LogError(ex, "Turn of {Grain} failed on {Work}; the message goes to the dead letters and the grain keeps its previous state", Id, Describe(item));
            var stream = (item as StreamWork)?.Item;
            var letter = new DeadLetter(
                0, Id, Silo.TimeProvider.GetUtcNow(), Describe(item), ex.Message, ex.GetType().FullName,
                stream?.Stream, stream?.Position, stream?.Payload ?? ReadOnlyMemory<byte>.Empty);
            await Silo.DeadLetters.AddAsync(letter, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception recordFailure)
        {
            // Storage closed (killed silo) or failing: the failure is already logged above; never let it escape the loop.
            Logger.LogError(recordFailure, "Could not record the dead letter of {Grain}", Id);
        }
    }

    private static string Describe(WorkItem item) => item switch
    {
        MessageWork m => m.Message.GetType().FullName ?? m.Message.GetType().Name,
        StreamWork => "stream",
        TimerWork => "timer",
        CallbackWork => "background-job",
        ActivateWork => "activation",
        DeactivateWork => "deactivation",
        _ => item.GetType().Name,
    };
}
