namespace EmStreaming.Numerics;

/// <summary>
/// A row-major n×d matrix of observations over a caller-owned array. <see cref="double.NaN"/> marks a missing entry.
/// </summary>
/// <remarks>
/// The matrix is a view: it does not copy <c>values</c>, so the caller must not modify the array while the matrix is in use.
/// </remarks>
public sealed class DataMatrix
{
    private readonly double[] _values;

    /// <summary>Wraps <paramref name="values"/> (row-major, <paramref name="rows"/>·<paramref name="columns"/> entries).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> is negative or <paramref name="columns"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">The length does not match, or an entry is ±Infinity (the message names the row and column, both zero-based).</exception>
    public DataMatrix(double[] values, int rows, int columns)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        if ((long)rows * columns != values.Length)
        {
            throw new ArgumentException($"values has {values.Length} entries but {rows} rows × {columns} columns need {(long)rows * columns}.", nameof(values));
        }

        var hasMissing = false;
        for (var i = 0; i < values.Length; i++)
        {
            var v = values[i];
            if (double.IsNaN(v))
            {
                hasMissing = true;
            }
            else if (double.IsInfinity(v))
            {
                throw new ArgumentException($"row {i / columns} column {i % columns} is infinite; only finite values or NaN (missing) are allowed.", nameof(values));
            }
        }

        _values = values;
        Rows = rows;
        Columns = columns;
        HasMissing = hasMissing;
    }

    /// <summary>Number of observations.</summary>
    public int Rows { get; }

    /// <summary>Number of dimensions per observation.</summary>
    public int Columns { get; }

    /// <summary>True when at least one entry is NaN (missing).</summary>
    public bool HasMissing { get; }

    /// <summary>All entries, row-major.</summary>
    public ReadOnlySpan<double> Values => _values;

    /// <summary>The entries of row <paramref name="i"/> (zero-based).</summary>
    public ReadOnlySpan<double> Row(int i) => new(_values, checked(i * Columns), Columns);

    /// <summary>
    /// The rows with at least one observed (non-NaN) entry, and the indices (ascending) of those with none; this matrix itself
    /// when every row has one. Fits and conditional expectations need an observed entry; a row without any carries no information.
    /// </summary>
    public (DataMatrix Observed, int[] EmptyRows) SplitEmptyRows()
    {
        var empty = new List<int>();
        for (var i = 0; i < Rows; i++)
        {
            if (Gmm.GmmParameters.CountObserved(Row(i)) == 0)
            {
                empty.Add(i);
            }
        }

        if (empty.Count == 0)
        {
            return (this, []);
        }

        var values = new double[(long)(Rows - empty.Count) * Columns];
        var r = 0;
        var next = 0;
        for (var i = 0; i < Rows; i++)
        {
            if (next < empty.Count && empty[next] == i)
            {
                next++;
                continue;
            }

            Row(i).CopyTo(values.AsSpan(r++ * Columns, Columns));
        }

        return (new DataMatrix(values, Rows - empty.Count, Columns), [.. empty]);
    }

    /// <summary>The entry at (<paramref name="row"/>, <paramref name="column"/>), NaN when missing.</summary>
    public double this[int row, int column]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)column, (uint)Columns, nameof(column));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)row, (uint)Rows, nameof(row));
            return _values[(row * Columns) + column];
        }
    }

    internal double[] RawValues => _values;

    /// <summary>
    /// A centre for sufficient statistics (<see cref="Gmm.GmmSufficientStatistics"/>'s origin): per column, the median of its
    /// observed entries, taken over at most <see cref="OriginSample"/> of them spread evenly over the rows (0 for a column with
    /// none). Not the mean: moments about an origin lose their digits to the origin's distance from the rows, and one glitch
    /// reading (1e12 among values near 0, a −9999 sentinel) drags the mean far from every other row; the median stays among
    /// them. Deterministic, O(rows) plus a sort of the sample.
    /// </summary>
    internal static double[] ObservedColumnCentres(ReadOnlySpan<double> values, int columns)
    {
        var centres = new double[columns];
        var rows = values.Length / columns;
        var sample = new double[Math.Min(rows, OriginSample + 1)];
        for (var j = 0; j < columns; j++)
        {
            // Rows spread evenly first; a sparse column that gave nothing that way is looked at row by row.
            var n = Collect(values, columns, j, Math.Max(1, rows / OriginSample), sample);
            n = n > 0 ? n : Collect(values, columns, j, 1, sample);
            if (n > 0)
            {
                var observed = sample.AsSpan(0, n);
                observed.Sort();
                centres[j] = observed[n / 2];
            }
        }

        return centres;

        static int Collect(ReadOnlySpan<double> values, int columns, int j, int step, double[] sample)
        {
            var n = 0;
            for (var i = j; i < values.Length && n < sample.Length; i += step * columns)
            {
                if (!double.IsNaN(values[i]))
                {
                    sample[n++] = values[i];
                }
            }

            return n;
        }
    }

    /// <summary>Most observed entries per column <see cref="ObservedColumnCentres"/> takes its median over.</summary>
    internal const int OriginSample = 4_096;

    /// <summary>A new array with the means of the observed entries of each column (see the span overload).</summary>
    internal static double[] ObservedColumnMeans(ReadOnlySpan<double> values, int columns)
    {
        var means = new double[columns];
        ObservedColumnMeans(values, columns, means);
        return means;
    }

    /// <summary>
    /// Writes the mean of the observed (non-NaN) entries of each column of row-major <paramref name="values"/> into
    /// <paramref name="means"/> (0 for a column with none), summing rows in order. Returns the first column with no
    /// observed entry, or −1.
    /// </summary>
    internal static int ObservedColumnMeans(ReadOnlySpan<double> values, int columns, Span<double> means)
    {
        Span<long> counts = columns <= 256 ? stackalloc long[columns] : new long[columns];
        counts.Clear();
        means = means.Slice(0, columns);
        means.Clear();
        for (var i = 0; i < values.Length; i += columns)
        {
            var row = values.Slice(i, columns);
            for (var j = 0; j < columns; j++)
            {
                if (!double.IsNaN(row[j]))
                {
                    means[j] += row[j];
                    counts[j]++;
                }
            }
        }

        var empty = -1;
        for (var j = 0; j < columns; j++)
        {
            if (counts[j] > 0)
            {
                means[j] /= counts[j];
            }
            else if (empty < 0)
            {
                empty = j;
            }
        }

        return empty;
    }
}
