using EmStreaming.Providers.Streams;
using Orleans.Runtime;

namespace EmStreaming.Providers.Tests.Streams;

public sealed class QueueTrackerTests
{
    private static readonly StreamId A = StreamId.Create("ns", "a");
    private static readonly StreamId B = StreamId.Create("ns", "b");

    [Fact]
    public void SafePosition_NothingDelivered_IsTheCheckpoint()
    {
        Assert.Equal(7, new QueueTracker(7).SafePosition);
    }

    [Fact]
    public void SafePosition_UnpersistedDelivery_StaysJustBelowIt()
    {
        var tracker = new QueueTracker(0);
        tracker.OnDelivering(A, 1);
        tracker.OnDelivering(B, 2);
        tracker.OnDelivering(A, 3);

        tracker.OnPersisted(A, 3);

        Assert.Equal(1, tracker.SafePosition);
        tracker.OnPersisted(B, 2);
        Assert.Equal(3, tracker.SafePosition);
        Assert.Equal(0, tracker.PendingStreams);
    }

    [Fact]
    public void OnPersisted_BelowTheLastDelivery_KeepsTheStreamPendingAboveThePersistedPosition()
    {
        var tracker = new QueueTracker(0);
        tracker.OnDelivering(A, 1);
        tracker.OnDelivering(B, 2);
        tracker.OnDelivering(A, 5);
        tracker.OnPersisted(B, 2);

        tracker.OnPersisted(A, 1);

        // A's next unpersisted entry is somewhere above 1 (it is 5): everything up to 1 is safe, and B's 2 too.
        Assert.Equal(1, tracker.SafePosition);
        Assert.Equal(1, tracker.PendingStreams);
    }

    [Fact]
    public void OnPersisted_UnknownStream_ChangesNothing()
    {
        var tracker = new QueueTracker(0);
        tracker.OnDelivering(A, 1);

        tracker.OnPersisted(B, 10);

        Assert.Equal(0, tracker.SafePosition);
    }

    [Fact]
    public void OnSkipped_UndecodableEntry_CountsAsDeliveredWithoutBlockingTrimming()
    {
        var tracker = new QueueTracker(0);
        tracker.OnDelivering(A, 1);
        tracker.OnPersisted(A, 1);

        tracker.OnSkipped(2);

        Assert.Equal(2, tracker.SafePosition);
    }
}
