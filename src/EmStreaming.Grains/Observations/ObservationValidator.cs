using EmStreaming.Numerics;

namespace EmStreaming.Grains.Observations;

/// <summary>
/// Splits a batch into accepted and rejected rows before anything is appended: a row is rejected (with its
/// index and reason) when it has the wrong width, an infinite value, or no observed entry; the rest of the batch
/// is kept. NaN is a missing entry, not an error.
/// </summary>
public static class ObservationValidator
{
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

    /// <summary>Null when the row is acceptable, else the reason.</summary>
    public static string? Check(ReadOnlySpan<double> row)
    {
        var observed = 0;
        for (var j = 0; j < row.Length; j++)
        {
            var v = row[j];
            if (double.IsInfinity(v))
            {
                return $"value {j} is infinite";
            }

            if (!double.IsNaN(v))
            {
                observed++;
            }
        }

        return observed == 0 ? "row has no observed value (all missing)" : null;
    }
}
