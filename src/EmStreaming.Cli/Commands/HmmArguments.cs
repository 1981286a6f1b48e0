using System.CommandLine;
using System.Globalization;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Cli.Commands;

/// <summary>Options specific to hidden Markov models (fit and stream).</summary>
internal sealed class HmmArguments
{
    public Option<int?> States { get; } = new("--states") { Description = "Number of hidden states K (hmm only)." };
    public Option<string?> Viterbi { get; } = new("--viterbi") { Description = "Write the Viterbi path (CSV with header 'state', 0-based) to this file (hmm only)." };

    public void AddTo(Command command)
    {
        command.Options.Add(States);
        command.Options.Add(Viterbi);
    }

    /// <summary>The --regime-confidence option of <c>stream</c> and <c>predict</c> (the server's <c>regimeConfidence</c>).</summary>
    public static Option<double?> RegimeConfidenceOption() => new("--regime-confidence")
    {
        Description = "hmm: the filtered probability at which another regime becomes the reported one, 0.5 (the most likely one at every row, the default) to 1 exclusive; 0.8 changes it about as often as the regime does.",
    };

    /// <summary>The value of <paramref name="option"/>, checked: null when not given.</summary>
    public static double? RegimeConfidence(ParseResult parse, Option<double?> option)
    {
        var confidence = parse.GetValue(option);
        return confidence is { } c && !RegimeTracking.IsValidConfidence(c)
            ? throw new CliException(
                $"--regime-confidence must be at least 0.5 and below 1 (0.5 the most likely regime, the default; 0.8 changes it about as often as the regime does), not {c.ToString(CultureInfo.InvariantCulture)}")
            : confidence;
    }
}
