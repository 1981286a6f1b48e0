using System.Globalization;

namespace EmStreaming.Benchmarks.Load;

/// <summary>Command-line options of the end-to-end load generator (<c>load</c> mode).</summary>
internal sealed record LoadOptions
{
    public int Models { get; init; } = 1_000;
    public int Dimension { get; init; } = 4;
    public int Components { get; init; } = 4;
    public int Batch { get; init; } = 100;
    public int Seconds { get; init; } = 30;

    /// <summary>The models' online mini-batch; null = the definition default.</summary>
    public int? MiniBatch { get; init; }
    public int WarmupSeconds { get; init; } = 5;

    /// <summary>Concurrent producers; each owns every <c>Producers</c>-th model and appends to its models in turn.</summary>
    public int Producers { get; init; } = 128;

    /// <summary>Target observations per second across all producers; 0 = as fast as backpressure allows.</summary>
    public double Rate { get; init; }

    /// <summary>Null: a fresh temporary directory, deleted afterwards.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>fsync on every group commit (the product default).</summary>
    public bool FullSync { get; init; } = true;

    /// <summary>Extra silo settings (<c>--set Streams:CacheSize=256</c>), applied over the defaults.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    public static LoadOptions Parse(IReadOnlyList<string> args)
    {
        var o = new LoadOptions();
        for (var i = 0; i < args.Count; i++)
        {
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int NextInt() => int.Parse(Next(), CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--models" => o with { Models = NextInt() },
                "--dimension" => o with { Dimension = NextInt() },
                "--components" => o with { Components = NextInt() },
                "--batch" => o with { Batch = NextInt() },
                "--seconds" => o with { Seconds = NextInt() },
                "--mini-batch" => o with { MiniBatch = NextInt() },
                "--warmup" => o with { WarmupSeconds = NextInt() },
                "--producers" => o with { Producers = NextInt() },
                "--rate" => o with { Rate = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--data-dir" => o with { DataDirectory = Next() },
                "--no-fsync" => o with { FullSync = false },
                "--set" => o with { Settings = Set(o.Settings, Next()) },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(o.Models);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(o.Batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(o.Seconds);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(o.Producers);
        ArgumentOutOfRangeException.ThrowIfNegative(o.Rate);
        return o;
    }

    private static Dictionary<string, string> Set(IReadOnlyDictionary<string, string> settings, string assignment)
    {
        var equals = assignment.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            throw new ArgumentException($"--set needs Section:Key=value, not '{assignment}'");
        }

        return new Dictionary<string, string>(settings) { [assignment[..equals]] = assignment[(equals + 1)..] };
    }
}
