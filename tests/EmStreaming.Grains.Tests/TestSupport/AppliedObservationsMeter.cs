using System.Diagnostics.Metrics;
using EmStreaming.Grains.Models;
using Microsoft.Extensions.DependencyInjection;

namespace EmStreaming.Grains.Tests.TestSupport;

/// <summary>
/// Sums what one harness's silo reports on its applied-observations counter (<see cref="ModelMetrics.Observations"/>). The
/// counter is matched by instance, so tests running in parallel with their own harnesses do not count into each other.
/// </summary>
internal sealed class AppliedObservationsMeter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _total;

    public AppliedObservationsMeter(ModelHarness harness)
    {
        var counter = harness.Services.GetRequiredService<ModelMetrics>().Observations;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument, counter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _total, value));
        _listener.Start();
    }

    /// <summary>Observations reported applied since this meter was created.</summary>
    public long Total => Interlocked.Read(ref _total);

    public void Dispose() => _listener.Dispose();
}
