namespace EmStreaming.Contracts;

/// <summary>The kind of model a grain keeps.</summary>
public enum ModelKind
{
    /// <summary>Gaussian mixture, updated with online EM (Cappé &amp; Moulines).</summary>
    Gmm,

    /// <summary>Hidden Markov model with Gaussian emissions, updated with online EM (Cappé 2011).</summary>
    Hmm,
}
