using System.Diagnostics.Metrics;

namespace EmStreaming.Grains.Models;

/// <summary>The <c>EmStreaming.Grains</c> meter: observations applied, append→applied latency, refits, drifts, snapshot age, mailbox depth.</summary>
internal sealed class ModelMetrics : IDisposable
{
    public const string MeterName = "EmStreaming.Grains";

    private readonly Meter _meter = new(MeterName);
    private long _lastSnapshotTicks;

    public ModelMetrics(TimeProvider timeProvider, Func<long>? mailboxDepth = null)
    {
        Observations = _meter.CreateCounter<long>("emstreaming.models.observations_applied", "{observation}", "Rows applied to models");
        BatchLatency = _meter.CreateHistogram<double>("emstreaming.models.batch_latency", "ms", "Time from a batch's durable append to its application");
        Refits = _meter.CreateCounter<long>("emstreaming.models.refits", "{refit}", "Refit results applied, tagged adopted=true|false");
        Snapshots = _meter.CreateCounter<long>("emstreaming.models.snapshots", "{snapshot}", "Snapshots written");
        Drifts = _meter.CreateCounter<long>("emstreaming.models.drifts", "{drift}", "Abrupt changes detected in models' data (drift events)");
        _meter.CreateObservableGauge("emstreaming.models.snapshot_age", () =>
        {
            var last = Interlocked.Read(ref _lastSnapshotTicks);
            return last == 0 ? 0 : (timeProvider.GetUtcNow().UtcTicks - last) / (double)TimeSpan.TicksPerSecond;
        }, "s", "Age of the most recent snapshot written by any model");
        if (mailboxDepth is not null)
        {
            _meter.CreateObservableGauge("emstreaming.models.mailbox_depth", mailboxDepth, "{message}", "Messages waiting in model mailboxes");
        }
    }

    public Counter<long> Observations { get; }

    public Histogram<double> BatchLatency { get; }

    public Counter<long> Refits { get; }

    public Counter<long> Snapshots { get; }

    public Counter<long> Drifts { get; }

    public void SnapshotWritten(DateTimeOffset at)
    {
        Snapshots.Add(1);
        Interlocked.Exchange(ref _lastSnapshotTicks, at.UtcTicks);
    }

    public void Dispose() => _meter.Dispose();
}
