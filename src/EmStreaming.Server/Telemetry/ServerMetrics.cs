using System.Diagnostics.Metrics;

namespace EmStreaming.Server.Telemetry;

/// <summary>
/// The server's instruments (meter <see cref="MeterName"/>): observations appended (a counter, so a rate is
/// observations/s), batch append latency, refits, regime changes and anomalies seen on the event stream, and
/// gauges of the oldest snapshot age and the pending (accepted, not yet applied) rows across models.
/// </summary>
internal sealed class ServerMetrics
{
    public const string MeterName = "EmStreaming.Server";

    private readonly Counter<long> _observations;
    private readonly Counter<long> _rejected;
    private readonly Histogram<double> _batchDuration;
    private readonly Counter<long> _events;
    private ModelStatusSummary _summary = ModelStatusSummary.Empty;
    private int _observed;

    public ServerMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _observations = meter.CreateCounter<long>("emstreaming.observations.accepted", "{observation}", "Rows accepted (durable) by the observations endpoint.");
        _rejected = meter.CreateCounter<long>("emstreaming.observations.rejected", "{observation}", "Rows rejected by validation.");
        _batchDuration = meter.CreateHistogram<double>("emstreaming.batch.duration", "s", "Time from receiving a batch to its rows being durable.");
        _events = meter.CreateCounter<long>("emstreaming.model.events", "{event}", "Model events by type (refitAdopted, refitRejected, regimeChanged, anomaly, ...).");
        meter.CreateObservableGauge("emstreaming.snapshot.age", () => Observe().OldestSnapshotAgeSeconds, "s", "Age of the oldest latest-snapshot among the models active on this silo.");
        meter.CreateObservableGauge("emstreaming.mailbox.depth", () => Observe().PendingObservations, "{observation}", "Rows accepted by this server but not yet applied, summed over the models active on this silo.");
        meter.CreateObservableGauge("emstreaming.models", () => Observe().Models, "{model}", "Models known to the service (the whole cluster's registry).");
        meter.CreateObservableGauge(
            "emstreaming.models.failed", () => Observe().FailedModels, "{model}",
            "Models whose stored state cannot be read (status.failure set), among those active on this silo since it started: each needs an operator's restore; alert on > 0.");
        meter.CreateObservableGauge("emstreaming.refits", () => Observe().Refits, "{refit}", "Refits adopted, summed over the models active on this silo since it started (as last seen).");
    }

    public void BatchAppended(int accepted, int rejected, TimeSpan duration)
    {
        _observations.Add(accepted);
        if (rejected > 0)
        {
            _rejected.Add(rejected);
        }

        _batchDuration.Record(duration.TotalSeconds);
    }

    public void EventSeen(string type) => _events.Add(1, new KeyValuePair<string, object?>("type", type));

    public void Publish(ModelStatusSummary summary) => Volatile.Write(ref _summary, summary);

    public ModelStatusSummary Summary => Volatile.Read(ref _summary);

    /// <summary>
    /// True when a reader (an OTLP export, <c>dotnet-counters</c>, any <see cref="MeterListener"/>) read a model gauge since the
    /// last call. The status poller reads the registry and the models' status board only then.
    /// </summary>
    public bool TakeObserved() => Interlocked.Exchange(ref _observed, 0) == 1;

    private ModelStatusSummary Observe()
    {
        Volatile.Write(ref _observed, 1);
        return Volatile.Read(ref _summary);
    }
}

/// <summary>What the status poller last saw across models.</summary>
internal sealed record ModelStatusSummary(long Models, long PendingObservations, double OldestSnapshotAgeSeconds, long Refits, long FailedModels = 0)
{
    public static readonly ModelStatusSummary Empty = new(0, 0, 0, 0);
}
