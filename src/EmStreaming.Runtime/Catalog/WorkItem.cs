using EmStreaming.Runtime.Grains;
using EmStreaming.Runtime.Streams;

namespace EmStreaming.Runtime.Catalog;

/// <summary>One entry of a mailbox. External items (messages, stream items) hold a mailbox slot; internal ones (activation, timer ticks,
/// job results, deactivation) bypass the capacity because they are bounded by construction.</summary>
internal abstract record WorkItem(bool External);

internal sealed record ActivateWork() : WorkItem(false);

internal sealed record MessageWork(object Message, TaskCompletionSource<object?>? Reply) : WorkItem(true);

internal sealed record StreamWork(StreamItem Item) : WorkItem(true);

internal sealed record TimerWork(GrainTimer Timer) : WorkItem(false);

internal sealed record CallbackWork(Func<CancellationToken, Task> Callback) : WorkItem(false);

internal sealed record DeactivateWork(DeactivationReason Reason) : WorkItem(false);

internal enum ActivationState
{
    Activating,
    Valid,
    Deactivating,
    Invalid,
}
