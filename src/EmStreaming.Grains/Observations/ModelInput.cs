using EmStreaming.Numerics;

namespace EmStreaming.Grains.Observations;

/// <summary>
/// Every rule on what a caller sends the model layer, in one place: model ids, idempotency keys and observation rows.
/// The HTTP edge only parses; <see cref="IModelService"/> and the grain (for external producers' batches) check here.
/// </summary>
/// <remarks>
/// A row is rejected (with its index and reason) when it has the wrong width, an infinite value or one beyond
/// ±<see cref="MaxMagnitude"/>, or no observed entry;
/// the rest of the batch is kept. NaN is a missing entry, not an error.
/// </remarks>
public static class ModelInput
{
    /// <summary>Longest model id (a grain key, a stream key, a file-safe name): 128 characters.</summary>
    public const int MaxIdLength = 128;

    /// <summary>Longest <c>Idempotency-Key</c>: 200 printable ASCII characters.</summary>
    public const int MaxIdempotencyKeyLength = 200;

    /// <summary>Null when <paramref name="id"/> is a valid model id; otherwise why not, naming it as <paramref name="what"/>.</summary>
    public static string? FindIdProblem(string? id, string what = "a model id")
    {
        var problem = IdProblem(id);
        return problem is null
            ? null
            : $"{what} is 1-{MaxIdLength} characters of ASCII letters, digits, '.', '_', '-' and ':' ('.' and '..' are reserved); {problem}";
    }

    /// <summary>Throws <see cref="ModelValidationException"/> naming <paramref name="field"/> when the id is not valid.</summary>
    public static void EnsureId(string? id, string field = "id", string what = "a model id")
    {
        if (FindIdProblem(id, what) is { } error)
        {
            throw new ModelValidationException(field, error);
        }
    }

    /// <summary>Throws <see cref="ModelValidationException"/> naming <c>Idempotency-Key</c> unless the key is null or 1..200 printable ASCII characters.</summary>
    public static void EnsureIdempotencyKey(string? key)
    {
        if (key is not null && (key.Length is 0 or > MaxIdempotencyKeyLength || key.Any(c => c is < ' ' or > '~')))
        {
            throw new ModelValidationException("Idempotency-Key", $"must be 1..{MaxIdempotencyKeyLength} printable ASCII characters");
        }
    }

    /// <summary>
    /// Splits parsed rows (possibly of different widths) into the accepted matrix and the rejections, with the indices of
    /// <paramref name="rows"/>.
    /// </summary>
    public static (DataMatrix? Accepted, IReadOnlyList<RejectedRow> Rejected) Validate(IReadOnlyList<double[]> rows, int dimension)
    {
        ArgumentNullException.ThrowIfNull(rows);
        List<RejectedRow>? rejected = null;
        var values = new double[rows.Count * dimension];
        var kept = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var reason = row.Length != dimension ? $"row has {row.Length} values; the model's dimension is {dimension}" : Check(row);
            if (reason is not null)
            {
                (rejected ??= []).Add(new RejectedRow(i, reason));
                continue;
            }

            row.CopyTo(values, kept * dimension);
            kept++;
        }

        if (kept == 0)
        {
            return (null, rejected ?? []);
        }

        return (new DataMatrix(kept == rows.Count ? values : values[..(kept * dimension)], kept, dimension), rejected ?? []);
    }

    /// <summary>Returns the accepted rows (a new matrix, or the input itself when every row is valid) and the rejections.</summary>
    public static (DataMatrix? Accepted, IReadOnlyList<RejectedRow> Rejected) Validate(DataMatrix rows, int dimension)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Columns != dimension)
        {
            var all = new RejectedRow[rows.Rows];
            for (var i = 0; i < all.Length; i++)
            {
                all[i] = new RejectedRow(i, $"row has {rows.Columns} values; the model's dimension is {dimension}");
            }

            return (null, all);
        }

        List<RejectedRow>? rejected = null;
        for (var i = 0; i < rows.Rows; i++)
        {
            if (Check(rows.Row(i)) is { } reason)
            {
                (rejected ??= []).Add(new RejectedRow(i, reason));
            }
        }

        if (rejected is null)
        {
            return (rows, []);
        }

        var kept = rows.Rows - rejected.Count;
        if (kept == 0)
        {
            return (null, rejected);
        }

        var values = new double[kept * dimension];
        var r = 0;
        var next = 0;
        for (var i = 0; i < rows.Rows; i++)
        {
            if (next < rejected.Count && rejected[next].Index == i)
            {
                next++;
                continue;
            }

            rows.Row(i).CopyTo(values.AsSpan(r * dimension, dimension));
            r++;
        }

        return (new DataMatrix(values, kept, dimension), rejected);
    }

    /// <summary>
    /// Query rows (predict, filter, impute) are all-or-nothing: throws <see cref="ModelValidationException"/> naming
    /// <c>rows</c> or <c>rows[i]</c> for the first row that is not acceptable.
    /// </summary>
    /// <param name="rows">The query's rows (NaN = missing).</param>
    /// <param name="dimension">The model's dimension.</param>
    /// <param name="allowEmptyRows">Whether a row with no observed value is acceptable (imputation fills it with the model's mean).</param>
    public static void EnsureQueryRows(DataMatrix rows, int dimension, bool allowEmptyRows = false)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Columns != dimension)
        {
            throw new ModelValidationException("rows", $"rows have {rows.Columns} values; the model's dimension is {dimension}");
        }

        for (var i = 0; i < rows.Rows; i++)
        {
            if (Check(rows.Row(i), allowEmptyRows) is { } reason)
            {
                throw new ModelValidationException($"rows[{i}]", reason);
            }
        }
    }

    /// <summary>
    /// Largest magnitude a value may have: 1e100. The model's second moments and Mahalanobis terms square values, and a
    /// row near 1e300 (finite, so it parsed) overflowed them when applied: the grain then refused the whole record, every
    /// good row of a batch already answered "accepted" with it. 1e100 squares, summed over a batch and divided by a
    /// covariance floor, with room to spare.
    /// </summary>
    public const double MaxMagnitude = 1e100;

    /// <summary>Null when the row is acceptable, else the reason.</summary>
    public static string? Check(ReadOnlySpan<double> row, bool allowEmpty = false)
    {
        var observed = 0;
        for (var j = 0; j < row.Length; j++)
        {
            var v = row[j];
            if (double.IsInfinity(v))
            {
                return $"value {j} is infinite";
            }

            if (Math.Abs(v) > MaxMagnitude)
            {
                return $"value {j} ({v.ToString("G3", System.Globalization.CultureInfo.InvariantCulture)}) is beyond ±1e100, the largest magnitude a model takes";
            }

            if (!double.IsNaN(v))
            {
                observed++;
            }
        }

        return observed == 0 && !allowEmpty ? "row has no observed value (all missing)" : null;
    }

    private static string? IdProblem(string? key)
    {
        if (key is null)
        {
            return "it is null";
        }

        if (key.Length == 0)
        {
            return "it is empty";
        }

        // Never echo the key itself: it may be 10 KB of hostile text headed for a log line.
        if (key.Length > MaxIdLength)
        {
            return $"it is {key.Length} characters long (at most {MaxIdLength})";
        }

        if (key is "." or "..")
        {
            return "'.' and '..' are reserved";
        }

        for (var i = 0; i < key.Length; i++)
        {
            var c = key[i];
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-' or ':'))
            {
                return $"character U+{(int)c:X4} at index {i} is not allowed";
            }
        }

        return null;
    }
}
