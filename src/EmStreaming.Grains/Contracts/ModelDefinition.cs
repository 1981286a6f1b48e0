using EmStreaming.Numerics;

namespace EmStreaming.Grains;

/// <summary>
/// What a model is: created explicitly (<c>PUT /v1/models/{id}</c>) or matched from a template in configuration
/// by key prefix. Immutable; validated before anything is stored.
/// </summary>
public sealed record ModelDefinition
{
    /// <summary>Default mini-batch size: one online statistics update and one M-step per this many observations.</summary>
    public const int DefaultBatchSize = 64;

    public required ModelKind Kind { get; init; }

    /// <summary>Dimension d of each observation (1..64).</summary>
    public required int Dimension { get; init; }

    /// <summary>Number of mixture components (gmm) or hidden states (hmm), 1..32.</summary>
    public required int Components { get; init; }

    /// <summary>Covariance type; hmm supports <see cref="CovarianceType.Full"/> and <see cref="CovarianceType.Diag"/>.</summary>
    public CovarianceType Covariance { get; init; } = CovarianceType.Full;

    /// <summary>Half-life in observations for a constant step size (tracks drift). Exclusive with <see cref="Alpha"/>.</summary>
    public double? HalfLife { get; init; }

    /// <summary>Exponent α ∈ (0.5, 1] of the decaying step (n + n0)^−α, with Polyak–Ruppert averaging. Exclusive with <see cref="HalfLife"/>.</summary>
    public double? Alpha { get; init; }

    /// <summary>
    /// Rows buffered before the first fit (batch EM on them, then online learning); null = automatic: a GMM waits for
    /// max(500, 10 × its free parameters), an HMM for 1,000. At least K × (d + 1)
    /// (<see cref="Definitions.ModelDefinitionValidator.MinimumWarmUp"/>), at most <see cref="Definitions.ModelDefinitionValidator.MaxWarmUp"/>.
    /// A refit request while warming up fits on the rows buffered so far once there are K × (d + 1) of them.
    /// Definitions stored before this field existed have none: automatic.
    /// </summary>
    public int? WarmUp { get; init; }

    /// <summary>Observations per online update (1..10,000).</summary>
    public int BatchSize { get; init; } = DefaultBatchSize;

    public RefitPolicy Refit { get; init; } = new();

    public SnapshotPolicy Snapshots { get; init; } = new();

    /// <summary>Anomaly score (negative log-density) above which an anomaly event is emitted; null = no events.</summary>
    public double? AnomalyThreshold { get; init; }

    /// <summary>
    /// Tail probability below which an anomaly event is emitted (0 &lt; p &lt; 1; null = not by tail): the scale-free
    /// criterion (<see cref="Numerics.Gmm.GaussianMixture.TailProbabilities"/>), about p of the rows the model explains,
    /// whatever the data's unit and the values missing. With <see cref="AnomalyThreshold"/> too, either one flags a row.
    /// </summary>
    public double? AnomalyTailProbability { get; init; }

    /// <summary>
    /// hmm only: the filtered probability at which another regime becomes the reported one (its <c>regime</c>, the
    /// <c>regimeChanged</c> events, the filter endpoint's regimes), in [0.5, 1); null or 0.5 is the most likely regime at every row, 0.8 makes it change about as often as the regime does
    /// (<see cref="Numerics.Hmm.RegimeTracking"/>). A policy: changing it keeps the learned state.
    /// </summary>
    public double? RegimeConfidence { get; init; }

    /// <summary>Seed of every random choice the model makes (initialization, restarts, re-seeding).</summary>
    public ulong Seed { get; init; }
}

/// <summary>When and how a model refits with batch EM over a window of recent observations.</summary>
public sealed record RefitPolicy
{
    public const int DefaultWindow = 5_000;
    public const int DefaultRestarts = 2;

    /// <summary>Refit after this many new observations; null = not by count.</summary>
    public long? EveryObservations { get; init; } = 50_000;

    /// <summary>Refit at this interval; null = not by time.</summary>
    public TimeSpan? Every { get; init; }

    /// <summary>Number of recent observations the refit uses.</summary>
    public int Window { get; init; } = DefaultWindow;

    /// <summary>Seeded restarts in addition to the warm start from the current parameters.</summary>
    public int Restarts { get; init; } = DefaultRestarts;
}

/// <summary>When snapshots are written and how many are kept.</summary>
public sealed record SnapshotPolicy
{
    /// <summary>Write a snapshot after this many new observations; null = not by count.</summary>
    public long? EveryObservations { get; init; } = 10_000;

    /// <summary>Write a snapshot at this interval when anything changed; null = not by time.</summary>
    public TimeSpan? Every { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Number of snapshots kept in this model's history (the newest is always kept); null = the server's
    /// <c>Storage:History:MaxVersions</c> (default 100). <c>Storage:History:MaxAge</c> applies as well.
    /// </summary>
    public int? Retain { get; init; }
}
