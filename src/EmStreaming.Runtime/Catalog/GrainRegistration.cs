using EmStreaming.Runtime.Grains;

namespace EmStreaming.Runtime.Catalog;

/// <summary>A registered grain type: how to create it and its effective per-type settings.</summary>
internal sealed record GrainRegistration(string GrainType, Func<IServiceProvider, GrainId, Grain> Factory, TimeSpan CollectionAge, int MailboxCapacity, string LoggerCategory);

/// <summary>Silo counters, updated with Interlocked and mirrored to the "EmStreaming.Runtime" meter for OpenTelemetry.</summary>
internal sealed class SiloCounters
{
    private static readonly System.Diagnostics.Metrics.Meter Meter = new("EmStreaming.Runtime");
    private static readonly System.Diagnostics.Metrics.Counter<long> TurnsFailedCounter = Meter.CreateCounter<long>("emstreaming.runtime.turns.failed");
    private static readonly System.Diagnostics.Metrics.Counter<long> LongTurnsCounter = Meter.CreateCounter<long>("emstreaming.runtime.turns.long");
    private static readonly System.Diagnostics.Metrics.Counter<long> DeliveredCounter = Meter.CreateCounter<long>("emstreaming.runtime.stream.delivered");

    private long _activations;
    private long _deactivations;
    private long _turnsCompleted;
    private long _turnsFailed;
    private long _longTurns;
    private long _delivered;
    private long _duplicates;
    private long _mailboxDepth;

    /// <summary>Work items waiting in mailboxes now (messages, stream items, ticks, job results), across activations.</summary>
    public long MailboxDepth => Interlocked.Read(ref _mailboxDepth);

    public void Queued(int count = 1) => Interlocked.Add(ref _mailboxDepth, count);

    public void Dequeued(int count = 1) => Interlocked.Add(ref _mailboxDepth, -count);

    public void Activated() => Interlocked.Increment(ref _activations);

    public void Deactivated() => Interlocked.Increment(ref _deactivations);

    public void TurnCompleted() => Interlocked.Increment(ref _turnsCompleted);

    public void TurnFailed()
    {
        Interlocked.Increment(ref _turnsFailed);
        TurnsFailedCounter.Add(1);
    }

    public void LongTurn()
    {
        Interlocked.Increment(ref _longTurns);
        LongTurnsCounter.Add(1);
    }

    public void Delivered()
    {
        Interlocked.Increment(ref _delivered);
        DeliveredCounter.Add(1);
    }

    public void DuplicateSkipped() => Interlocked.Increment(ref _duplicates);

    public Hosting.SiloStatistics Snapshot(int active, int runningJobs) => new(
        active, Interlocked.Read(ref _activations), Interlocked.Read(ref _deactivations), Interlocked.Read(ref _turnsCompleted),
        Interlocked.Read(ref _turnsFailed), Interlocked.Read(ref _longTurns), Interlocked.Read(ref _delivered), Interlocked.Read(ref _duplicates), runningJobs,
        Interlocked.Read(ref _mailboxDepth));
}
