namespace EmStreaming.Numerics;

/// <summary>Shape of the component covariance matrices of a Gaussian mixture (the four families of scikit-learn).</summary>
public enum CovarianceType
{
    /// <summary>Each component has its own unconstrained covariance matrix (K·D·(D+1)/2 parameters).</summary>
    Full,

    /// <summary>Each component has its own diagonal covariance matrix (K·D parameters).</summary>
    Diag,

    /// <summary>Each component has its own single variance, σ²·I (K parameters).</summary>
    Spherical,

    /// <summary>All components share one unconstrained covariance matrix (D·(D+1)/2 parameters).</summary>
    Tied,
}
