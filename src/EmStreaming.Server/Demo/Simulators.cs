namespace EmStreaming.Server.Demo;

/// <summary>Gaussian draws from a seeded <see cref="Random"/> (Box–Muller), so a feed is the same on every run.</summary>
internal static class Gaussian
{
    public static double Next(Random random)
    {
        // 1 - NextDouble() is in (0, 1]: the logarithm stays finite.
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}

/// <summary>
/// A simulated sensor: a few operating modes (Gaussian clusters) it switches between, whose centres drift now
/// and then to a new place over a few hundred readings, plus a rare outlier. The truth a GMM should track.
/// </summary>
internal sealed class SensorSimulator
{
    private const double SwitchProbability = 0.02;
    private const double DriftProbability = 0.0015;
    private const int DriftLength = 400;
    private const double OutlierProbability = 0.001;

    private readonly Random _random;
    private readonly double[][] _centres;
    private readonly double[][] _scales;
    private readonly double[] _correlation;
    private int _mode;
    private int _driftMode = -1;
    private int _driftLeft;
    private double[] _driftStep = [];

    public SensorSimulator(int dimension, int modes, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(modes, 1);
        Dimension = dimension;
        _random = new Random(seed);
        _centres = new double[modes][];
        _scales = new double[modes][];
        _correlation = new double[modes];
        for (var m = 0; m < modes; m++)
        {
            _centres[m] = new double[dimension];
            _scales[m] = new double[dimension];
            for (var j = 0; j < dimension; j++)
            {
                // Centres spread on a ring so the modes are distinct but close enough to be interesting.
                var angle = (2 * Math.PI * m / modes) + (0.4 * _random.NextDouble());
                _centres[m][j] = j % 2 == 0 ? 10 + (4 * Math.Cos(angle)) + (j * 0.5) : 10 + (4 * Math.Sin(angle)) - (j * 0.3);
                _scales[m][j] = 0.35 + (0.5 * _random.NextDouble());
            }

            _correlation[m] = -0.7 + (1.4 * _random.NextDouble());
        }
    }

    public int Dimension { get; }

    /// <summary>Current operating mode (0-based), for tests and logs.</summary>
    public int Mode => _mode;

    /// <summary>The mode whose centre is moving (a drift in progress), or −1, for tests.</summary>
    public int DriftingMode => _driftLeft > 0 ? _driftMode : -1;

    /// <summary>A copy of mode <paramref name="mode"/>'s current centre (it moves during a drift), for tests.</summary>
    public double[] Centre(int mode) => (double[])_centres[mode].Clone();

    /// <summary>Writes <paramref name="rows"/> readings into <paramref name="destination"/> (row-major).</summary>
    public void Next(Span<double> destination, int rows)
    {
        var d = Dimension;
        for (var i = 0; i < rows; i++)
        {
            Step();
            var row = destination.Slice(i * d, d);
            var centre = _centres[_mode];
            var scale = _scales[_mode];
            var z0 = Gaussian.Next(_random);
            var z1 = Gaussian.Next(_random);
            var rho = _correlation[_mode];

            // The first two coordinates are correlated (tilted ellipses); the others independent.
            row[0] = centre[0] + (scale[0] * z0);
            row[1] = centre[1] + (scale[1] * ((rho * z0) + (Math.Sqrt(1 - (rho * rho)) * z1)));
            for (var j = 2; j < d; j++)
            {
                row[j] = centre[j] + (scale[j] * Gaussian.Next(_random));
            }

            if (_random.NextDouble() < OutlierProbability)
            {
                row[_random.Next(d)] += (_random.NextDouble() < 0.5 ? -1 : 1) * (8 + (4 * _random.NextDouble()));
            }
        }
    }

    private void Step()
    {
        if (_random.NextDouble() < SwitchProbability)
        {
            _mode = _random.Next(_centres.Length);
        }

        if (_driftLeft == 0 && _random.NextDouble() < DriftProbability)
        {
            _driftMode = _random.Next(_centres.Length);
            _driftLeft = DriftLength;
            _driftStep = new double[Dimension];
            for (var j = 0; j < Dimension; j++)
            {
                // Pull back towards the middle so a long run does not wander off the dashboard.
                var target = 10 + (5 * ((2 * _random.NextDouble()) - 1));
                _driftStep[j] = (target - _centres[_driftMode][j]) / DriftLength;
            }
        }

        if (_driftLeft > 0)
        {
            for (var j = 0; j < Dimension; j++)
            {
                _centres[_driftMode][j] += _driftStep[j];
            }

            _driftLeft--;
        }
    }
}

/// <summary>
/// A simulated market: returns (and, in two dimensions, traded volume) whose distribution switches between a calm
/// and a volatile regime with Markov transitions. The truth a two-state HMM should find.
/// </summary>
internal sealed class MarketSimulator
{
    private readonly Random _random;
    private readonly double _calmToVolatile;
    private readonly double _volatileToCalm;

    public MarketSimulator(int dimension, int seed, double calmToVolatile = 0.01, double volatileToCalm = 0.03)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dimension, 2);
        Dimension = dimension;
        _random = new Random(seed);
        _calmToVolatile = calmToVolatile;
        _volatileToCalm = volatileToCalm;
    }

    public int Dimension { get; }

    /// <summary>True while in the volatile regime.</summary>
    public bool Volatile { get; private set; }

    /// <summary>Writes <paramref name="rows"/> ticks into <paramref name="destination"/> (row-major): return in %, then volume.</summary>
    public void Next(Span<double> destination, int rows)
    {
        for (var i = 0; i < rows; i++)
        {
            var p = Volatile ? _volatileToCalm : _calmToVolatile;
            if (_random.NextDouble() < p)
            {
                Volatile = !Volatile;
            }

            var row = destination.Slice(i * Dimension, Dimension);
            row[0] = Volatile ? -0.15 + (2.2 * Gaussian.Next(_random)) : 0.05 + (0.4 * Gaussian.Next(_random));
            if (Dimension == 2)
            {
                row[1] = Volatile ? 3.2 + (0.7 * Gaussian.Next(_random)) : 1.0 + (0.25 * Gaussian.Next(_random));
            }
        }
    }
}
