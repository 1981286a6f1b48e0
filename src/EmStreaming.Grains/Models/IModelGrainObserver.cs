namespace EmStreaming.Grains.Models;

/// <summary>
/// Sees what model grains do, for measurements and tests (the load generator's append→visible latency, reference runs of
/// the crash test). Registered in the container; the default does nothing. Called on the grain's turn: keep it cheap.
/// </summary>
internal interface IModelGrainObserver
{
    /// <summary>A record was applied (after the producer-sequence check).</summary>
    void Applied(string modelId, ModelStreamRecord record) { }

    /// <summary>A view was published, with the model's observation count.</summary>
    void Published(string modelId, long observations) { }

    /// <summary>A timer tick of a model starts (true) or ends (false); <paramref name="timer"/> is "refit" or "snapshot".</summary>
    void Tick(string modelId, string timer, bool started) { }
}

/// <summary>The default observer: nothing.</summary>
internal sealed class NoModelGrainObserver : IModelGrainObserver;
