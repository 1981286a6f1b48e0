namespace EmStreaming.Providers.Storage;

/// <summary>
/// A grain state that would rather activate and report its stored state unreadable than fail its activation. For such a
/// state type the EmStreaming storages do not throw <see cref="CorruptGrainStateException"/> on read: they hand the grain a
/// fresh state with <see cref="Corruption"/> set, <c>RecordExists</c> true and the stored ETag, and change nothing in storage.
/// </summary>
/// <remarks>
/// Why: an activation that fails is retried by whoever calls it, and a stream delivery to it is retried by the pulling agent
/// for its whole delivery time while every other stream of that queue waits. A grain that activates knowing its state is
/// corrupt can refuse its work alone and answer why; since it holds the stored ETag, a deliberate recovery (a restore) can
/// overwrite the bad bytes, while a stale writer still loses the ETag race.
/// </remarks>
public interface ICorruptionTolerantGrainState
{
    /// <summary>Why the stored state could not be read (set by the storage on read; never stored), or null.</summary>
    string? Corruption { get; }

    /// <summary>Called by the storage instead of throwing: forget any content and remember <paramref name="reason"/>.</summary>
    void MarkCorrupt(string reason);
}
