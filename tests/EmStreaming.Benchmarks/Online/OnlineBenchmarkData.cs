namespace EmStreaming.Benchmarks.Online;

/// <summary>Seeded rows from a K-component, d-dimensional mixture with unit-scale components on a ±6 cube.</summary>
internal static class OnlineBenchmarkData
{
    public static double[] Sample(int components, int dimension, int rows, int seed)
    {
        var rng = new Random(seed);
        var means = new double[components * dimension];
        for (var i = 0; i < means.Length; i++)
        {
            means[i] = 12 * (rng.NextDouble() - 0.5);
        }

        var x = new double[rows * dimension];
        for (var i = 0; i < rows; i++)
        {
            var k = rng.Next(components);
            for (var j = 0; j < dimension; j++)
            {
                var u1 = 1.0 - rng.NextDouble();
                var z = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * rng.NextDouble());
                x[(i * dimension) + j] = means[(k * dimension) + j] + z;
            }
        }

        return x;
    }
}
