using EmStreaming.Grains.Models;

namespace EmStreaming.Grains.Tests.Models;

public sealed class PendingObservationsTests
{
    [Fact]
    public void Get_AcceptedThenAppliedInOrder_CountsRowsNotYetApplied()
    {
        var pending = new PendingObservations();
        pending.Accepted("m", 3, 100);
        pending.Accepted("m", 7, 50);
        pending.Accepted("other", 4, 10);
        Assert.Equal(150, pending.Get("m"));

        pending.Applied("m", 3);
        Assert.Equal(50, pending.Get("m"));
        pending.Applied("m", 9); // a control record after the batch
        Assert.Equal(0, pending.Get("m"));
        Assert.Equal(10, pending.Get("other"));
    }

    [Fact]
    public void Accepted_AfterItsRecordWasAlreadyApplied_IsNotCounted()
    {
        var pending = new PendingObservations();
        pending.Applied("m", 12); // delivery beat the append's continuation

        pending.Accepted("m", 12, 100);

        Assert.Equal(0, pending.Get("m"));
        Assert.Equal(0, pending.Get("never-seen"));
    }
}
