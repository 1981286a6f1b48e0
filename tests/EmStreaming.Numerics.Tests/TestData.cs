using System.Globalization;
using EmStreaming.Numerics;

namespace EmStreaming.Numerics.Tests;

/// <summary>Tiny CSV reader for the bundled data sets (header row, numeric columns chosen by name).</summary>
internal static class TestData
{
    public static DataMatrix Faithful() => Read("faithful.csv", "eruptions", "waiting");

    public static DataMatrix Iris() => Read("iris.csv", "sepal_length", "sepal_width", "petal_length", "petal_width");

    public static DataMatrix Read(string file, params string[] columns)
    {
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "data", file));
        var header = lines[0].Split(',');
        var index = columns.Select(c => Array.IndexOf(header, c)).ToArray();
        Assert.DoesNotContain(-1, index);
        var rows = lines.Skip(1).Where(l => l.Length > 0).ToArray();
        var values = new double[rows.Length * columns.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            var fields = rows[i].Split(',');
            for (var j = 0; j < index.Length; j++)
            {
                values[(i * columns.Length) + j] = double.Parse(fields[index[j]], CultureInfo.InvariantCulture);
            }
        }

        return new DataMatrix(values, rows.Length, columns.Length);
    }
}
