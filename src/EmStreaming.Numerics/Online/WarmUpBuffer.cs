namespace EmStreaming.Numerics.Online;

/// <summary>
/// Rows an online estimator (mixture or HMM) buffers before its first fit, with each column's count of observed (non-NaN)
/// values among them. The fit waits while a column has fewer than <see cref="MinimumObservedPerColumn"/>: no value gives no
/// estimate (a batch fit refuses it), one gives a mean but no spread (the start would invent a variance and the relative
/// covariance floor would be 0). Meanwhile the owner keeps only the newest rows (<see cref="KeepNewest"/>), so the memory
/// stays bounded and the fit, when the column arrives, uses recent rows.
/// </summary>
internal sealed class WarmUpBuffer
{
    /// <summary>Observed values each column needs among the buffered rows before the first fit: 2.</summary>
    public const int MinimumObservedPerColumn = 2;

    /// <summary>
    /// Fewest rows a first fit of <paramref name="components"/> components (or states) in <paramref name="dimension"/> columns
    /// may run on: K × (d + 1), so that K-means++ and EM can give every component d + 1 rows, the fewest that span d
    /// dimensions and make a full covariance non-singular without leaning on the floor. It exceeds K (every component gets a
    /// distinct seed row) and is never more than the automatic GMM warm-up (10 × the free parameters).
    /// </summary>
    public static int MinimumRows(int components, int dimension) =>
        (int)Math.Min(int.MaxValue, (long)components * ((long)dimension + 1));

    private readonly int _d;
    private readonly int[] _observed;
    private double[] _values;
    private int _rows;

    /// <param name="dimension">Columns per row.</param>
    /// <param name="initialRows">Rows allocated up front (the buffer grows beyond them when needed).</param>
    public WarmUpBuffer(int dimension, int initialRows)
    {
        _d = dimension;
        _observed = new int[dimension];
        _values = new double[initialRows * dimension];
    }

    /// <summary>Rows held.</summary>
    public int Rows => _rows;

    /// <summary>The rows held, oldest first, row-major.</summary>
    public ReadOnlySpan<double> Values => _values.AsSpan(0, _rows * _d);

    /// <summary>Appends whole rows (row-major; NaN = missing).</summary>
    public void Append(ReadOnlySpan<double> rows)
    {
        var length = _rows * _d;
        if (length + rows.Length > _values.Length)
        {
            Array.Resize(ref _values, Math.Max(length + rows.Length, 2 * _values.Length));
        }

        rows.CopyTo(_values.AsSpan(length));
        Count(rows, +1);
        _rows += rows.Length / _d;
    }

    /// <summary>Drops the newest rows so that <paramref name="rows"/> remain (undoes an append).</summary>
    public void Truncate(int rows)
    {
        if (rows < _rows)
        {
            Count(_values.AsSpan(rows * _d, (_rows - rows) * _d), -1);
            _rows = rows;
        }
    }

    /// <summary>Drops the oldest rows so that at most <paramref name="rows"/> remain.</summary>
    public void KeepNewest(int rows)
    {
        var drop = _rows - rows;
        if (drop <= 0)
        {
            return;
        }

        Count(_values.AsSpan(0, drop * _d), -1);
        Array.Copy(_values, drop * _d, _values, 0, rows * _d);
        _rows = rows;
    }

    /// <summary>The first column with fewer than <see cref="MinimumObservedPerColumn"/> observed values among the rows held, or −1.</summary>
    public int ShortColumn()
    {
        for (var j = 0; j < _d; j++)
        {
            if (_observed[j] < MinimumObservedPerColumn)
            {
                return j;
            }
        }

        return -1;
    }

    private void Count(ReadOnlySpan<double> rows, int sign)
    {
        for (var i = 0; i < rows.Length; i++)
        {
            if (!double.IsNaN(rows[i]))
            {
                _observed[i % _d] += sign;
            }
        }
    }
}
