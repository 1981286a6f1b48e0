using System.Diagnostics;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Benchmarks.Gmm;

/// <summary>
/// Separate mode for the memory bar: one whole fit on n × 8 (default 1,000,000) in a fresh process, then the process's
/// peak working set. Run it under <c>/usr/bin/time -v</c> as a cross-check ("Maximum resident set size").
/// Also writes the data as CSV when given a path, for the scikit-learn comparison.
/// </summary>
public static class GmmPeakMemory
{
    /// <summary>args: gmm-peak [rows] [csv-path]</summary>
    public static int Run(string[] args)
    {
        var rows = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000;
        var data = GmmBenchmarkData.Sample(rows);
        if (args.Length > 2)
        {
            GmmBenchmarkData.WriteCsv(data, args[2]);
            Console.WriteLine($"wrote {args[2]}");
            return 0;
        }

        var watch = Stopwatch.StartNew();
        var fit = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = GmmBenchmarkData.Components, Seed = 1 });
        watch.Stop();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        Console.WriteLine(
            $"rows={rows} iterations={fit.Iterations} converged={fit.Converged} meanLogLik={fit.MeanLogLikelihood:F6} " +
            $"fitSeconds={watch.Elapsed.TotalSeconds:F2} secondsPerIteration={watch.Elapsed.TotalSeconds / Math.Max(1, fit.Iterations):F3} " +
            $"peakWorkingSetMB={process.PeakWorkingSet64 / (1024.0 * 1024.0):F1}");
        return 0;
    }
}
