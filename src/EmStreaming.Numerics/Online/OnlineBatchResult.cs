namespace EmStreaming.Numerics.Online;

/// <summary>Outcome of one <see cref="OnlineGaussianMixture.Update(ReadOnlySpan{double}, Span{double})"/> call (one mini-batch).</summary>
/// <param name="Rows">Rows in the batch.</param>
/// <param name="Observations">Rows absorbed so far, this batch included (warm-up rows count).</param>
/// <param name="MeanLogLikelihood">
/// Prequential mean log-density per row (nats) of the batch under the parameters held before it was learned;
/// NaN when the estimator was still warming up before the batch.
/// </param>
/// <param name="WarmingUp">True when the estimator is still warming up after the batch.</param>
/// <param name="Reseeded">Components re-seeded after this batch's M-step.</param>
public readonly record struct OnlineBatchResult(int Rows, long Observations, double MeanLogLikelihood, bool WarmingUp, int Reseeded)
{
    /// <summary>True when the change detector raised a drift alarm in this batch (<see cref="OnlineGaussianMixture.DriftsDetected"/>).</summary>
    public bool DriftDetected { get; init; }
}
