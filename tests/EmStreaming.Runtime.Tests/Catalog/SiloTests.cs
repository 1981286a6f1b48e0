using EmStreaming.Runtime.Catalog;
using EmStreaming.Runtime.Grains;
using EmStreaming.Runtime.Hosting;
using EmStreaming.Runtime.Storage;
using EmStreaming.Runtime.Tests.TestSupport;

namespace EmStreaming.Runtime.Tests.Catalog;

public sealed class SiloTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new();
    private readonly Probe _probe = new();
    private readonly GrainId _grain = new("probe", "p1");
    private ISilo _silo = null!;

    public Task InitializeAsync()
    {
        _silo = Build();
        return _silo.StartAsync();
    }

    public async Task DisposeAsync() => await _silo.DisposeAsync();

    private ISilo Build(Action<SiloOptions>? configure = null, Action<GrainTypeOptions>? typeOptions = null)
    {
        var options = new SiloOptions { CollectionQuantum = TimeSpan.FromMinutes(1) };
        configure?.Invoke(options);
        return new SiloBuilder()
            .UseOptions(options)
            .UseTimeProvider(_clock)
            .AddGrain("probe", (_, _) => new ProbeGrain(_probe), typeOptions)
            .Build();
    }

    private async Task<ISilo> RestartAsync(Action<SiloOptions>? configure = null, Action<GrainTypeOptions>? typeOptions = null)
    {
        await _silo.DisposeAsync();
        _silo = Build(configure, typeOptions);
        await _silo.StartAsync();
        return _silo;
    }

    [Fact]
    public async Task TellAsync_FirstMessages_ActivateTheGrainOnceAndRunInOrder()
    {
        for (var i = 0; i < 20; i++)
        {
            await _silo.TellAsync(_grain, new Note($"m{i}"));
        }

        await Wait.UntilAsync(() => _probe.Log.Count == 20, "20 notes");
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), _probe.Log);
        Assert.Equal(1, _probe.Activations);
        Assert.Equal(1, _silo.GetStatistics().ActiveActivations);
    }

    [Fact]
    public async Task TellAsync_ManyConcurrentSenders_TurnsNeverOverlap()
    {
        await Task.WhenAll(Enumerable.Range(0, 8).Select(s => Task.Run(async () =>
        {
            for (var i = 0; i < 50; i++)
            {
                await _silo.TellAsync(_grain, new Note($"{s}:{i}"));
            }
        })));

        await Wait.UntilAsync(() => _probe.Log.Count == 400, "400 notes");
        Assert.Equal(1, _probe.MaxConcurrent);
        for (var s = 0; s < 8; s++)
        {
            // Each sender's messages keep their order.
            Assert.Equal(Enumerable.Range(0, 50).Select(i => $"{s}:{i}"), _probe.Log.Where(l => l.StartsWith($"{s}:", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public async Task AskAsync_ReturnsTheGrainsAnswer()
    {
        await _silo.TellAsync(_grain, new Publish(41));
        Assert.Equal(41, await Wait.Done(_silo.AskAsync<int>(_grain, new Get()).AsTask()));
    }

    [Fact]
    public async Task AskAsync_ToItselfInsideATurn_FailsInsteadOfDeadlocking()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Wait.Done(_silo.AskAsync<int>(_grain, new AskSelf()).AsTask()));
        Assert.Contains("re-entrant", error.Message);
    }

    [Fact]
    public async Task QueryViewAsync_GrainNotActive_ActivatesAndReturnsPublishedView()
    {
        var view = await Wait.Done(_silo.QueryViewAsync<ProbeView>(_grain).AsTask());
        Assert.Equal(new ProbeView(0), view);
        Assert.Equal(1, _probe.Activations);
    }

    [Fact]
    public async Task QueryViewAsync_DuringALongTurn_ReturnsLastPublishedViewWithoutWaiting()
    {
        await _silo.TellAsync(_grain, new Publish(7));
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource();
        await _silo.TellAsync(_grain, new Hold(started, release.Task));
        await Wait.Done(started.Task);

        var view = await Wait.Done(_silo.QueryViewAsync<ProbeView>(_grain).AsTask());

        Assert.Equal(new ProbeView(7), view);
        Assert.DoesNotContain("released", _probe.Log);
        release.SetResult();
    }

    [Fact]
    public async Task GetStatistics_MessagesQueuedBehindALongTurn_MailboxDepthCountsThemUntilProcessed()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource();
        await _silo.TellAsync(_grain, new Hold(started, release.Task));
        await Wait.Done(started.Task);

        await _silo.TellAsync(_grain, new Note("a"));
        await _silo.TellAsync(_grain, new Note("b"));

        // The running turn is not counted; the two notes behind it are.
        Assert.Equal(2, _silo.GetStatistics().MailboxDepth);
        release.SetResult();
        await Wait.UntilAsync(() => _probe.Log.Contains("b"), "the queued notes");
        await Wait.UntilAsync(() => _silo.GetStatistics().MailboxDepth == 0, "empty mailboxes");
    }

    [Fact]
    public async Task FailingTurn_IsDeadLetteredWithReason_GrainKeepsStateAndContinues()
    {
        await _silo.TellAsync(_grain, new Publish(5));
        await _silo.TellAsync(_grain, new SetThenFail(99));
        await _silo.TellAsync(_grain, new Note("after"));

        await Wait.UntilAsync(() => _probe.Log.Contains("after"), "the message after the failure");
        Assert.Equal(5, await _silo.AskAsync<int>(_grain, new Get()));
        var letter = Assert.Single(await _silo.GetDeadLettersAsync(_grain));
        Assert.Equal(typeof(SetThenFail).FullName, letter.MessageType);
        Assert.Equal("refusing 99", letter.Reason);
        Assert.Equal(typeof(InvalidOperationException).FullName, letter.ExceptionType);
        Assert.Equal(1, _silo.GetStatistics().TurnsFailed);
    }

    [Fact]
    public async Task AskAsync_GrainThrows_CallerGetsTheExceptionAndItIsDeadLettered()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Wait.Done(_silo.AskAsync<object>(_grain, new SetThenFail(3)).AsTask()));
        Assert.Equal("refusing 3", error.Message);
        Assert.Single(await _silo.GetDeadLettersAsync());
    }

    [Fact]
    public async Task Turn_LongerThanThreshold_IsCountedAsLongTurn()
    {
        await _silo.AskAsync<object>(_grain, new SpendTime(_clock, TimeSpan.FromMilliseconds(500)));
        Assert.Equal(0, _silo.GetStatistics().LongTurns);

        await _silo.AskAsync<object>(_grain, new SpendTime(_clock, TimeSpan.FromSeconds(2)));

        Assert.Equal(1, _silo.GetStatistics().LongTurns);
    }

    [Fact]
    public async Task TellAsync_MailboxFull_WaitsThenSucceedsWhenRoomFrees()
    {
        await RestartAsync(typeOptions: t => t.MailboxCapacity = 2);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource();
        await _silo.TellAsync(_grain, new Hold(started, release.Task));
        await Wait.Done(started.Task); // the held message left the mailbox: two slots free
        await _silo.TellAsync(_grain, new Note("a"));
        await _silo.TellAsync(_grain, new Note("b"));

        var waiting = _silo.TellAsync(_grain, new Note("c")).AsTask();
        await Task.Delay(5);
        Assert.False(waiting.IsCompleted);

        release.SetResult();
        await Wait.Done(waiting);
        await Wait.UntilAsync(() => _probe.Log.Count == 4, "all four messages");
        Assert.Equal(["released", "a", "b", "c"], _probe.Log);
    }

    [Fact]
    public async Task TellAsync_MailboxStaysFull_TimesOutWithClearErrorAndDropsNothingElse()
    {
        await RestartAsync(o => o.EnqueueTimeout = TimeSpan.FromSeconds(10), t => t.MailboxCapacity = 1);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource();
        await _silo.TellAsync(_grain, new Hold(started, release.Task));
        await Wait.Done(started.Task);
        await _silo.TellAsync(_grain, new Note("queued"));
        var waiting = _silo.TellAsync(_grain, new Note("refused")).AsTask();
        await Task.Delay(5);

        _clock.Advance(TimeSpan.FromSeconds(11));

        var error = await Assert.ThrowsAsync<BackpressureTimeoutException>(() => Wait.Done(waiting));
        Assert.Contains("mailbox of probe/p1", error.Message);
        Assert.Contains("SiloOptions.EnqueueTimeout", error.Message);
        release.SetResult();
        await Wait.UntilAsync(() => _probe.Log.Contains("queued"), "the queued message");
        Assert.DoesNotContain("refused", _probe.Log);
    }

    [Fact]
    public async Task GrainTimer_TickSlowerThanPeriod_NeverOverlaps()
    {
        _probe.TickGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _silo.AskAsync<object>(_grain, new StartTimer(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)));

        _clock.Advance(TimeSpan.FromSeconds(1));
        await Wait.UntilAsync(() => Volatile.Read(ref _probe.TimerTicks) == 1, "first tick");
        for (var i = 0; i < 10; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(1)); // ten periods pass while the first tick is still running
        }

        await Task.Delay(5);
        Assert.Equal(1, Volatile.Read(ref _probe.TimerTicks));

        _probe.TickGate.SetResult(); // the tick completes; only now is the next one armed, one period later
        await Wait.UntilAsync(() => _clock.ActiveTimers >= 3, "the next tick armed"); // collector + checkpointer + timer
        _clock.Advance(TimeSpan.FromSeconds(1));
        await Wait.UntilAsync(() => Volatile.Read(ref _probe.TimerTicks) == 2, "second tick");
        Assert.Equal(1, _probe.MaxConcurrent);
    }

    [Fact]
    public async Task BackgroundJob_ResultArrivesAfterNewerMessages_IsDeliveredAsALaterTurn()
    {
        var work = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _silo.TellAsync(_grain, new StartJob(work.Task));
        await _silo.TellAsync(_grain, new Note("m1"));
        await _silo.TellAsync(_grain, new Note("m2"));
        await Wait.UntilAsync(() => _probe.Log.Count == 3, "messages processed while the job runs");
        Assert.Equal(1, _silo.GetStatistics().RunningBackgroundJobs);

        work.SetResult(42);

        await Wait.UntilAsync(() => _probe.Log.Count == 4, "the job result");
        Assert.Equal(["job-started", "m1", "m2", "job-result:42"], _probe.Log);
        Assert.Equal(1, _probe.MaxConcurrent);
    }

    [Fact]
    public async Task BackgroundJob_Throws_FailureArrivesAsAValue()
    {
        await _silo.TellAsync(_grain, new StartJob(Task.FromException<int>(new InvalidOperationException("diverged"))));
        await Wait.UntilAsync(() => _probe.Log.Count == 2, "the job outcome");
        Assert.Equal("job-failed:diverged", _probe.Log.Last());
    }

    [Fact]
    public async Task IdleGrain_AfterCollectionAge_IsDeactivatedAndReactivatedOnNextMessage()
    {
        await RestartAsync(typeOptions: t => t.CollectionAge = TimeSpan.FromMinutes(5));
        await _silo.AskAsync<object>(_grain, new Note("first"));

        _clock.Advance(TimeSpan.FromMinutes(4));
        await Task.Delay(5);
        Assert.Equal(0, _probe.Deactivations);
        await _silo.QueryViewAsync<ProbeView>(_grain); // a query is activity too

        _clock.Advance(TimeSpan.FromMinutes(4));
        await Task.Delay(5);
        Assert.Equal(0, _probe.Deactivations);

        _clock.Advance(TimeSpan.FromMinutes(2));
        await Wait.UntilAsync(() => _silo.GetStatistics().ActiveActivations == 0, "idle deactivation");
        Assert.Equal(1, _probe.Deactivations);
        Assert.Contains("deactivate:Idle", _probe.Log);

        await _silo.AskAsync<object>(_grain, new Note("second"));
        Assert.Equal(2, _probe.Activations);
        Assert.Equal(1, _silo.GetStatistics().ActiveActivations);
    }

    [Fact]
    public async Task IdleGrain_WithPendingBackgroundJob_IsNotCollected()
    {
        await RestartAsync(typeOptions: t => t.CollectionAge = TimeSpan.FromMinutes(1));
        var work = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _silo.AskAsync<object>(_grain, new StartJob(work.Task));

        _clock.Advance(TimeSpan.FromMinutes(5));
        await Task.Delay(5);
        Assert.Equal(0, _probe.Deactivations);

        work.SetResult(1);
        await Wait.UntilAsync(() => _probe.Log.Contains("job-result:1"), "job result");
        _clock.Advance(TimeSpan.FromMinutes(2));
        await Wait.UntilAsync(() => _probe.Deactivations == 1, "collection once the job is back");
    }

    [Fact]
    public async Task ActivationFails_MessagesAreDeadLetteredAndTheNextMessageRetriesActivation()
    {
        _probe.ActivationFailure = new InvalidOperationException("cannot load");
        await Assert.ThrowsAsync<InvalidOperationException>(() => Wait.Done(_silo.AskAsync<object>(_grain, new Note("x")).AsTask()));
        var letter = Assert.Single(await _silo.GetDeadLettersAsync(_grain));
        Assert.Contains("cannot load", letter.Reason);

        _probe.ActivationFailure = null;
        await _silo.AskAsync<object>(_grain, new Note("y"));
        Assert.Equal(["y"], _probe.Log);
        Assert.Equal(2, _probe.Activations);
    }

    [Fact]
    public async Task StopAsync_DeactivatesEveryGrainAfterItsQueuedMessages()
    {
        for (var i = 0; i < 5; i++)
        {
            await _silo.TellAsync(new GrainId("probe", $"g{i}"), new Note($"n{i}"));
        }

        await _silo.StopAsync();

        Assert.Equal(5, _probe.Deactivations);
        Assert.Equal(5, _probe.Log.Count(l => l.StartsWith('n')));
        Assert.Equal(5, _probe.Log.Count(l => l == "deactivate:Shutdown"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => _silo.TellAsync(_grain, new Note("late")).AsTask());
    }

    [Fact]
    public async Task TellAsync_UnknownGrainType_ThrowsUnknownGrainType()
    {
        var error = await Assert.ThrowsAsync<UnknownGrainTypeException>(() => _silo.TellAsync(new GrainId("nope", "k"), new Note("x")).AsTask());
        Assert.Equal("nope", error.GrainType);
    }

    [Fact]
    public async Task TellAsync_DefaultGrainId_RejectedBeforeAnyActivation()
    {
        await Assert.ThrowsAsync<InvalidGrainKeyException>(() => _silo.TellAsync(default, new Note("x")).AsTask());
        Assert.Equal(0, _silo.GetStatistics().ActiveActivations);
    }

    [Fact]
    public async Task DeactivateOnIdle_DeactivatesAfterTheCurrentTurn_NextMessageReactivates()
    {
        await _silo.AskAsync<object>(_grain, new DeactivateMe());
        await Wait.UntilAsync(() => _probe.Deactivations == 1, "requested deactivation");
        Assert.Equal(["asked-to-deactivate", "deactivate:Requested"], _probe.Log);

        await _silo.AskAsync<object>(_grain, new Note("again"));
        Assert.Equal(2, _probe.Activations);
    }

    [Fact]
    public async Task GrainTimer_TicksDoNotKeepTheGrainAlive_AndStopWithTheActivation()
    {
        await RestartAsync(typeOptions: t => t.CollectionAge = TimeSpan.FromMinutes(5));
        // Ticks at 0:10, 0:55, 1:40...: never on the collector's minute marks, so a collection never races a running tick.
        await _silo.AskAsync<object>(_grain, new StartTimer(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(45)));

        for (var step = 0; step < 7 * 12; step++)
        {
            _clock.Advance(TimeSpan.FromSeconds(5));
            await Task.Delay(1);
        }

        await Wait.UntilAsync(() => _probe.Deactivations == 1, "idle deactivation despite ticks");
        var ticks = Volatile.Read(ref _probe.TimerTicks);
        Assert.InRange(ticks, 5, 10); // one per 45 s from 0:10 until the deactivation at 5:00 or 6:00

        _clock.Advance(TimeSpan.FromMinutes(5));
        await Task.Delay(5);
        Assert.Equal(ticks, Volatile.Read(ref _probe.TimerTicks));
        Assert.Equal(1, _probe.Activations);
    }
}
