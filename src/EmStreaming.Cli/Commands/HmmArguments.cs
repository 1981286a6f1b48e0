using System.CommandLine;

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
}
