using System.Numerics.Tensors;
using EmStreaming.Numerics.Parallelism;

namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// Greedy k-means++ seeding (2 + ⌊ln K⌋ candidates per centre, as scikit-learn) and a few Lloyd iterations, for EM
/// initialization. Missing entries are skipped: a distance uses the observed coordinates, rescaled by D / observed.
/// </summary>
/// <remarks>
/// Parallel and deterministic: every pass over the rows (a candidate centre's potential, an assignment) is cut into fixed
/// chunks of <see cref="ChunkRows"/> rows whatever the number of threads; each chunk writes its own partial sums and
/// the partials are combined in chunk order, so a seed gives bit-identical centres and labels on any number of cores.
/// Buffers are allocated once per run; the Lloyd iterations allocate nothing.
/// </remarks>
internal static class KMeansSeeding
{
    public const int DefaultLloydIterations = 10;

    /// <summary>Rows per chunk: the unit of parallel work and of ordered reduction.</summary>
    public const int ChunkRows = 4096;

    private const int TileRows = 256;

    /// <summary>Writes the K×D centres and the label of every row. Deterministic for a given generator state.</summary>
    /// <param name="data">The rows.</param>
    /// <param name="k">Number of centres.</param>
    /// <param name="rng">Generator, advanced by the seeding draws.</param>
    /// <param name="lloydIterations">Maximum Lloyd iterations after seeding.</param>
    /// <param name="centers">Destination, K×D.</param>
    /// <param name="labels">Destination, one label per row.</param>
    /// <param name="runner">Pool to run the passes on (e.g. the EM workspace's); null runs them on the calling thread.</param>
    /// <param name="columnScale">
    /// Null (distances in the data's own units), or one factor per column that every coordinate difference is multiplied by
    /// before squaring (<see cref="SeedingSpaces.ColumnScale"/>): the seeding and the Lloyd assignments then work in scaled coordinates,
    /// while the centres stay in the data's units (a centroid does not depend on the column weights).
    /// </param>
    public static void Run(DataMatrix data, int k, ref DeterministicRandom rng, int lloydIterations, double[] centers, int[] labels, ChunkRunner? runner = null, double[]? columnScale = null)
    {
        using var own = runner is null ? new ChunkRunner(1) : null;
        var pool = runner ?? own!;
        var n = data.Rows;
        var d = data.Columns;
        var x = data.RawValues;
        if (columnScale is not null && columnScale.Length != d)
        {
            throw new ArgumentException($"columnScale has {columnScale.Length} entries; the data have {d} columns", nameof(columnScale));
        }

        var pass = new Passes(data, k, centers, labels, pool.WorkerCount, columnScale);

        var first = rng.NextInt(n);
        double[]? columnMeans = null;
        if (data.HasMissing)
        {
            columnMeans = new double[d];
            DataMatrix.ObservedColumnMeans(x, d, columnMeans);
        }

        SetCenter(centers, 0, x, first, d, columnMeans);
        Array.Fill(pass.Closest, double.PositiveInfinity);
        var potential = pass.Potential(pool, 0, pass.Closest);
        var candidateDist = new double[n];
        var bestDist = new double[n];

        var trials = 2 + (int)Math.Log(k);
        for (var c = 1; c < k; c++)
        {
            var bestPotential = double.PositiveInfinity;
            var bestCandidate = -1;
            for (var trial = 0; trial < trials; trial++)
            {
                var candidate = SampleProportional(pass.Closest, potential, ref rng);
                SetCenter(centers, c, x, candidate, d, columnMeans);
                var p = pass.Potential(pool, c, candidateDist);

                // The first trial is kept whatever its potential: with values far beyond the others (1e100 among 1e-60) the
                // squared distances overflow, every potential is +∞, and no trial was ever "better" (a centre at row −1).
                if (bestCandidate < 0 || p < bestPotential)
                {
                    bestPotential = p;
                    bestCandidate = candidate;
                    (bestDist, candidateDist) = (candidateDist, bestDist);
                }
            }

            SetCenter(centers, c, x, bestCandidate, d, columnMeans);
            (pass.Closest, bestDist) = (bestDist, pass.Closest);
            potential = bestPotential;
        }

        // Each assignment pass also sums the rows per new label, so a Lloyd iteration is one pass over the data.
        pass.AssignAndSum(pool);
        for (var iteration = 0; iteration < lloydIterations; iteration++)
        {
            pass.UpdateCenters();
            if (pass.AssignAndSum(pool) == 0)
            {
                break;
            }
        }
    }

    private static int SampleProportional(double[] weights, double total, ref DeterministicRandom rng)
    {
        if (!(total > 0))
        {
            // Every point sits on a centre already (fewer distinct points than K): any row will do.
            return rng.NextInt(weights.Length);
        }

        var u = rng.NextDouble() * total;
        double acc = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            acc += weights[i];
            if (u < acc)
            {
                return i;
            }
        }

        for (var i = weights.Length - 1; i >= 0; i--)
        {
            if (weights[i] > 0)
            {
                return i;
            }
        }

        return weights.Length - 1;
    }

    /// <summary>Centre c = row, its missing entries filled with the column means.</summary>
    private static void SetCenter(double[] centers, int c, double[] x, int row, int d, double[]? columnMeans)
    {
        for (var j = 0; j < d; j++)
        {
            var v = x[(row * d) + j];
            centers[(c * d) + j] = double.IsNaN(v) ? columnMeans![j] : v;
        }
    }

    private static double Distance(double[] x, int row, int d, double[] centers, int c, double[]? scale)
    {
        double s = 0;
        var observed = 0;
        var offset = row * d;
        var co = c * d;
        for (var j = 0; j < d; j++)
        {
            var v = x[offset + j];
            if (!double.IsNaN(v))
            {
                var diff = v - centers[co + j];
                if (scale is not null)
                {
                    diff *= scale[j];
                }

                s += diff * diff;
                observed++;
            }
        }

        return observed == d ? s : s * d / observed;
    }

    /// <summary>The chunked passes over the rows, with their per-chunk partial results.</summary>
    private sealed class Passes : IChunkWork
    {
        private readonly double[] _x;
        private readonly int _n;
        private readonly int _d;
        private readonly int _k;
        private readonly double[] _centers;
        private readonly double[]? _scale;
        private readonly int[] _labels;
        private readonly int _chunks;
        private readonly double[] _chunkPotential;
        private readonly int[] _chunkChanges;
        private readonly double[] _chunkSums;
        private readonly double[] _chunkCounts;
        private readonly double[] _sums;
        private readonly double[] _counts;
        private bool _assign;
        private int _candidate;
        private double[] _target = [];

        // Complete data: per-worker column-major tiles, so distances run along the rows with TensorPrimitives.
        private readonly bool _complete;
        private readonly double[][] _tiles;
        private readonly double[][] _distances;

        public Passes(DataMatrix data, int k, double[] centers, int[] labels, int workers, double[]? scale)
        {
            _scale = scale;
            _x = data.RawValues;
            _n = data.Rows;
            _d = data.Columns;
            _k = k;
            _centers = centers;
            _labels = labels;
            _chunks = (_n + ChunkRows - 1) / ChunkRows;
            _chunkPotential = new double[_chunks];
            _chunkChanges = new int[_chunks];
            _chunkSums = new double[_chunks * k * _d];
            _chunkCounts = new double[_chunks * k * _d];
            _sums = new double[k * _d];
            _counts = new double[k * _d];
            Closest = new double[_n];
            _complete = !data.HasMissing;
            _tiles = new double[_complete ? workers : 0][];
            _distances = new double[_complete ? workers : 0][];
            for (var w = 0; w < _tiles.Length; w++)
            {
                _tiles[w] = new double[_d * TileRows];
                _distances[w] = new double[(k + 1) * TileRows];
            }
        }

        /// <summary>Squared distance of each row to its nearest chosen centre.</summary>
        public double[] Closest { get; set; }

        /// <summary>target[i] = min(Closest[i], dist(row i, centre c)); returns Σ target, summed in chunk order.</summary>
        public double Potential(ChunkRunner pool, int c, double[] target)
        {
            _assign = false;
            _candidate = c;
            _target = target;
            pool.Run(_chunks, this);
            double p = 0;
            foreach (var v in _chunkPotential)
            {
                p += v;
            }

            return p;
        }

        /// <summary>Labels every row with its nearest centre and sums the rows per label; returns how many labels changed.</summary>
        public int AssignAndSum(ChunkRunner pool)
        {
            _assign = true;
            pool.Run(_chunks, this);
            var changes = 0;
            foreach (var v in _chunkChanges)
            {
                changes += v;
            }

            return changes;
        }

        /// <summary>Centres = per-label means of the last assignment; a cluster (or coordinate) with no rows keeps its centre.</summary>
        public void UpdateCenters()
        {
            var len = _k * _d;
            Array.Clear(_sums);
            Array.Clear(_counts);
            for (var chunk = 0; chunk < _chunks; chunk++)
            {
                TensorPrimitives.Add(_sums, _chunkSums.AsSpan(chunk * len, len), _sums);
                TensorPrimitives.Add(_counts, _chunkCounts.AsSpan(chunk * len, len), _counts);
            }

            for (var t = 0; t < len; t++)
            {
                if (_counts[t] > 0)
                {
                    _centers[t] = _sums[t] / _counts[t];
                }
            }
        }

        public void Execute(int chunk, int worker)
        {
            var start = chunk * ChunkRows;
            var end = Math.Min(start + ChunkRows, _n);
            if (!_assign)
            {
                var closest = Closest;
                var target = _target;
                double p = 0;
                for (var i = start; i < end; i++)
                {
                    var dist = Math.Min(closest[i], Distance(_x, i, _d, _centers, _candidate, _scale));
                    target[i] = dist;
                    p += dist;
                }

                _chunkPotential[chunk] = p;
                return;
            }

            if (_complete)
            {
                AssignTiles(chunk, start, end, _tiles[worker], _distances[worker]);
                return;
            }

            var len = _k * _d;
            var sums = _chunkSums.AsSpan(chunk * len, len);
            var counts = _chunkCounts.AsSpan(chunk * len, len);
            sums.Clear();
            counts.Clear();
            var changes = 0;
            for (var i = start; i < end; i++)
            {
                var best = 0;
                var bestDist = double.PositiveInfinity;
                for (var c = 0; c < _k; c++)
                {
                    var dist = Distance(_x, i, _d, _centers, c, _scale);
                    if (dist < bestDist)
                    {
                        bestDist = dist;
                        best = c;
                    }
                }

                if (_labels[i] != best)
                {
                    changes++;
                    _labels[i] = best;
                }

                var row = _x.AsSpan(i * _d, _d);
                for (var j = 0; j < _d; j++)
                {
                    if (!double.IsNaN(row[j]))
                    {
                        sums[(best * _d) + j] += row[j];
                        counts[(best * _d) + j]++;
                    }
                }
            }

            _chunkChanges[chunk] = changes;
        }

        /// <summary>
        /// The assignment pass for complete rows: the K distances of a tile of rows are computed along the rows of a
        /// column-major copy with TensorPrimitives instead of K·d scalar steps per row.
        /// </summary>
        private void AssignTiles(int chunk, int start, int end, double[] xt, double[] dist)
        {
            const int T = TileRows;
            var d = _d;
            var len = _k * d;
            var sums = _chunkSums.AsSpan(chunk * len, len);
            var counts = _chunkCounts.AsSpan(chunk * len, len);
            sums.Clear();
            counts.Clear();
            var changes = 0;
            for (var t0 = start; t0 < end; t0 += T)
            {
                var b = Math.Min(T, end - t0);
                var rows = _x.AsSpan(t0 * d, b * d);
                for (var t = 0; t < b; t++)
                {
                    for (var j = 0; j < d; j++)
                    {
                        xt[(j * T) + t] = rows[(t * d) + j];
                    }
                }

                var diff = dist.AsSpan(_k * T, b);
                for (var c = 0; c < _k; c++)
                {
                    var acc = dist.AsSpan(c * T, b);
                    acc.Clear();
                    for (var j = 0; j < d; j++)
                    {
                        TensorPrimitives.Subtract(xt.AsSpan(j * T, b), _centers[(c * d) + j], diff);
                        if (_scale is not null)
                        {
                            TensorPrimitives.Multiply(diff, _scale[j], diff);
                        }

                        TensorPrimitives.MultiplyAdd(diff, diff, acc, acc);
                    }
                }

                for (var t = 0; t < b; t++)
                {
                    var best = 0;
                    var bestDist = dist[t];
                    for (var c = 1; c < _k; c++)
                    {
                        if (dist[(c * T) + t] < bestDist)
                        {
                            bestDist = dist[(c * T) + t];
                            best = c;
                        }
                    }

                    var i = t0 + t;
                    if (_labels[i] != best)
                    {
                        changes++;
                        _labels[i] = best;
                    }

                    var row = rows.Slice(t * d, d);
                    var sum = sums.Slice(best * d, d);
                    for (var j = 0; j < d; j++)
                    {
                        sum[j] += row[j];
                    }

                    counts[best * d]++;
                }
            }

            // Complete rows: every coordinate of a cluster has the same count.
            for (var c = 0; c < _k; c++)
            {
                counts.Slice(c * d, d).Fill(counts[c * d]);
            }

            _chunkChanges[chunk] = changes;
        }
    }
}
