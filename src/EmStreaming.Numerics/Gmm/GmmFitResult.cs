using System.Numerics.Tensors;

namespace EmStreaming.Numerics.Gmm;

/// <summary>Outcome of a batch EM fit (the best restart).</summary>
public sealed class GmmFitResult
{
    internal GmmFitResult(GaussianMixture model, bool converged, int iterations, IReadOnlyList<double> trace, double meanLogLikelihood, int bestRestart, int rows)
    {
        Model = model;
        Converged = converged;
        Iterations = iterations;
        LogLikelihoodTrace = trace;
        MeanLogLikelihood = meanLogLikelihood;
        BestRestart = bestRestart;
        Rows = rows;
        var total = meanLogLikelihood * rows;
        Bic = (-2.0 * total) + (model.ParameterCount * Math.Log(rows));
        Aic = (-2.0 * total) + (2.0 * model.ParameterCount);
    }

    /// <summary>Fitted parameters.</summary>
    public GaussianMixture Model { get; }

    /// <summary>True when the change of mean log-likelihood fell below the tolerance before the iteration limit.</summary>
    public bool Converged { get; }

    /// <summary>EM iterations (M-steps) run by the best restart.</summary>
    public int Iterations { get; }

    /// <summary>Mean log-likelihood per sample after each iteration of the best restart; the last entry equals <see cref="MeanLogLikelihood"/>.</summary>
    public IReadOnlyList<double> LogLikelihoodTrace { get; }

    /// <summary>Mean log-likelihood per sample of <see cref="Model"/> on the training data.</summary>
    public double MeanLogLikelihood { get; }

    /// <summary>Zero-based index of the restart that won.</summary>
    public int BestRestart { get; }

    /// <summary>Number of training rows n.</summary>
    public int Rows { get; }

    /// <summary>BIC on the training data, −2·log L + p·ln n.</summary>
    public double Bic { get; }

    /// <summary>AIC on the training data, −2·log L + 2p.</summary>
    public double Aic { get; }

    /// <summary>
    /// Components with fewer rows (n·w_k) than it takes to determine them: d + 1 for a full covariance, 2 for a diagonal or
    /// spherical one, 1 for a component of a tied model (its mean). Such a component's likelihood is set by the covariance
    /// floor, not by the data (on one or two rows it is as large as the floor lets it be), so BIC and AIC say nothing
    /// about the model: <see cref="GaussianMixtureEM.SelectByBic"/> and <see cref="GaussianMixtureEM.ChooseByBic"/> pass over it.
    /// </summary>
    public int UnderdeterminedComponents
    {
        get
        {
            Span<double> occupancy = Model.Components <= 256 ? stackalloc double[Model.Components] : new double[Model.Components];
            TensorPrimitives.Multiply(Model.Weights, (double)Rows, occupancy);
            return ComponentSupport.Underdetermined(occupancy, Model.CovarianceType, Model.Dimension);
        }
    }
}
