namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// One EM run over a <see cref="GmmWorkspace"/>: parameters, statistics and buffers allocated once, so that
/// <see cref="Iterate"/> allocates nothing. The benchmark drives it directly.
/// </summary>
internal sealed class GmmEmEngine
{
    private readonly GmmWorkspace _workspace;
    private readonly double _regCovar;
    private readonly double[] _floor;
    private readonly bool[] _degenerate;
    private readonly int[] _worstRows;
    private readonly double[] _rowScratch;
    private readonly double[] _rowLogDensity;
    private readonly double[]?[] _seedingScale = new double[]?[3];
    private readonly bool[] _seedingScaleReady = new bool[3];

    /// <param name="workspace">The data and buffers.</param>
    /// <param name="regCovar">Absolute covariance floor added to every diagonal.</param>
    /// <param name="relativeRegCovar">Fraction of each column's within-cluster scale added to every diagonal too (<see cref="CovarianceFloor"/>).</param>
    public GmmEmEngine(GmmWorkspace workspace, double regCovar, double relativeRegCovar = CovarianceFloor.DefaultRelative)
    {
        _workspace = workspace;
        _regCovar = regCovar;
        _floor = CovarianceFloor.FromData(workspace.Data.RawValues, workspace.Dimension, relativeRegCovar);
        Parameters = new GmmParameters(workspace.Components, workspace.Dimension, workspace.Type);
        Statistics = workspace.CreateStatistics();
        _degenerate = new bool[workspace.Components];
        _worstRows = new int[workspace.Components];
        _rowScratch = new double[GmmParameters.RowScratchLength(workspace.Dimension)];
        _rowLogDensity = new double[workspace.Components];
    }

    public GmmParameters Parameters { get; }

    /// <summary>Statistics of the last E-step (under <see cref="Parameters"/> before the next M-step).</summary>
    public GmmSufficientStatistics Statistics { get; }

    /// <summary>Σ log p(x_i) under the current <see cref="Parameters"/>.</summary>
    public double LogLikelihood { get; private set; }

    /// <summary>Number of components re-seeded by the last <see cref="Iterate"/>.</summary>
    public int Reseeded { get; private set; }

    /// <summary>Initializes from k-means++ (its distances measured in <paramref name="space"/>) or random responsibilities, then runs the first E-step.</summary>
    public void Initialize(GmmInitialization initialization, ulong seed, SeedingSpace space = SeedingSpace.Raw)
    {
        var data = _workspace.Data;
        var k = _workspace.Components;
        var d = _workspace.Dimension;
        var provisional = ProvisionalModel(data, k, d, _workspace.Type, _regCovar);
        if (initialization == GmmInitialization.KMeansPlusPlus)
        {
            var centers = new double[k * d];
            var labels = new int[data.Rows];
            var rng = new DeterministicRandom(seed);
            KMeansSeeding.Run(data, k, ref rng, KMeansSeeding.DefaultLloydIterations, centers, labels, _workspace.Runner, SeedingScale(space));
            centers.CopyTo(provisional.Means, 0);
            _workspace.AccumulateLabels(provisional, labels, Statistics);
        }
        else
        {
            _workspace.AccumulateRandom(provisional, seed, Statistics);
        }

        MaximizeAndReseed(provisional, firstStep: true);
        LogLikelihood = _workspace.Expectation(Parameters, Statistics);
    }

    /// <summary>The column factors of <paramref name="space"/> over this engine's rows, computed once (they cost a sort per column).</summary>
    private double[]? SeedingScale(SeedingSpace space)
    {
        var i = (int)space;
        if (!_seedingScaleReady[i])
        {
            _seedingScale[i] = SeedingSpaces.ColumnScale(_workspace.Data.RawValues, _workspace.Dimension, space);
            _seedingScaleReady[i] = true;
        }

        return _seedingScale[i];
    }

    /// <summary>Starts from given parameters, then runs the first E-step.</summary>
    public void InitializeFrom(GmmParameters start)
    {
        Parameters.CopyFrom(start);
        LogLikelihood = _workspace.Expectation(Parameters, Statistics);
    }

    /// <summary>One EM iteration: M-step from the current statistics (re-seeding degenerate components), then E-step. Returns Σ log p(x_i) of the new parameters.</summary>
    public double Iterate()
    {
        MaximizeAndReseed(null, firstStep: false);
        LogLikelihood = _workspace.Expectation(Parameters, Statistics);
        return LogLikelihood;
    }

    private void MaximizeAndReseed(GmmParameters? provisional, bool firstStep)
    {
        var count = Statistics.MaximizeInto(Parameters, _regCovar, _floor, _degenerate);
        Reseeded = 0;
        if (count == 0)
        {
            return;
        }

        // A degenerate component moves to a badly explained row: the worst rows of the last E-step, or random rows
        // before the first E-step. It borrows the covariance of the component that explains that row best and takes
        // half of its weight, so it starts as a split of a live component rather than a blind guess.
        var data = _workspace.Data;
        int rowsAvailable;
        if (firstStep)
        {
            _ = provisional;
            rowsAvailable = Math.Min(_worstRows.Length, data.Rows);
            for (var i = 0; i < rowsAvailable; i++)
            {
                _worstRows[i] = (int)((long)i * data.Rows / rowsAvailable);
            }
        }
        else
        {
            rowsAvailable = _workspace.WorstRows(_worstRows);
        }

        var used = 0;
        var p = Parameters;
        var d = p.Dimension;
        for (var k = 0; k < p.Components && used < rowsAvailable; k++)
        {
            if (!_degenerate[k])
            {
                continue;
            }

            var row = data.Row(_worstRows[used++]);
            p.LogDensitiesRow(row, _rowLogDensity, _rowScratch);
            var owner = -1;
            var best = double.NegativeInfinity;
            for (var j = 0; j < p.Components; j++)
            {
                var v = _rowLogDensity[j] + p.LogWeights[j];
                if (!_degenerate[j] && v > best)
                {
                    best = v;
                    owner = j;
                }
            }

            var mean = p.Means.AsSpan(k * d, d);
            for (var i = 0; i < d; i++)
            {
                mean[i] = double.IsNaN(row[i]) ? (owner >= 0 ? p.Means[(owner * d) + i] : mean[i]) : row[i];
            }

            if (owner >= 0)
            {
                var half = p.Weights[owner] / 2;
                p.Weights[owner] = half;
                p.Weights[k] += half;
                CopyCovariance(p, owner, k);
            }

            Reseeded++;
        }

        var total = 0.0;
        foreach (var w in p.Weights)
        {
            total += w;
        }

        for (var k = 0; k < p.Components; k++)
        {
            p.Weights[k] /= total;
        }

        if (!p.TryRefreshFactors(out _))
        {
            throw new InvalidOperationException("re-seeding produced a singular covariance");
        }
    }

    private static void CopyCovariance(GmmParameters p, int from, int to)
    {
        var d = p.Dimension;
        switch (p.Type)
        {
            case CovarianceType.Full:
                Array.Copy(p.Covariances, from * d * d, p.Covariances, to * d * d, d * d);
                break;
            case CovarianceType.Diag:
                Array.Copy(p.Covariances, from * d, p.Covariances, to * d, d);
                break;
            case CovarianceType.Spherical:
                p.Covariances[to] = p.Covariances[from];
                break;
            default:
                break;
        }
    }

    /// <summary>Uniform weights, column-mean means and the diagonal of the observed column variances: only used to impute missing entries in the first statistics.</summary>
    private static GmmParameters ProvisionalModel(DataMatrix data, int k, int d, CovarianceType type, double regCovar)
    {
        var p = new GmmParameters(k, d, type);
        var mean = new double[d];
        var variance = new double[d];
        var count = new double[d];
        var x = data.RawValues;
        for (var i = 0; i < data.Rows; i++)
        {
            for (var j = 0; j < d; j++)
            {
                var v = x[(i * d) + j];
                if (!double.IsNaN(v))
                {
                    count[j]++;
                    var delta = v - mean[j];
                    mean[j] += delta / count[j];
                    variance[j] += delta * (v - mean[j]);
                }
            }
        }

        for (var j = 0; j < d; j++)
        {
            variance[j] = (count[j] > 1 ? variance[j] / count[j] : 1.0) + Math.Max(regCovar, 1e-12);
        }

        Array.Fill(p.Weights, 1.0 / k);
        for (var c = 0; c < k; c++)
        {
            mean.CopyTo(p.Means, c * d);
            switch (type)
            {
                case CovarianceType.Full:
                    for (var j = 0; j < d; j++)
                    {
                        p.Covariances[(c * d * d) + (j * d) + j] = variance[j];
                    }

                    break;
                case CovarianceType.Diag:
                    variance.CopyTo(p.Covariances, c * d);
                    break;
                case CovarianceType.Spherical:
                    p.Covariances[c] = variance.Average();
                    break;
                default:
                    for (var j = 0; j < d; j++)
                    {
                        p.Covariances[(j * d) + j] = variance[j];
                    }

                    break;
            }
        }

        if (!p.TryRefreshFactors(out _))
        {
            throw new InvalidOperationException("could not build the provisional model");
        }

        return p;
    }
}
