using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EmStreaming.Grains.Tests.TestSupport;

/// <summary>
/// The system clock moved on by <see cref="Offset"/>: dates jump (days pass in a test) while timers and delays run in real time,
/// as a silo's do.
/// </summary>
internal sealed class ShiftedClock : TimeProvider
{
    public TimeSpan Offset { get; set; }

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;

    /// <summary>Makes <paramref name="clock"/> the silo's <see cref="TimeProvider"/>.</summary>
    public static void Use(IServiceCollection services, ShiftedClock clock)
    {
        services.RemoveAll<TimeProvider>();
        services.AddSingleton<TimeProvider>(clock);
    }
}
