using EmStreaming.Cli.Csv;
using Spectre.Console;

namespace EmStreaming.Cli;

/// <summary>
/// Where a command writes: stdout for results (JSON or a readable summary), stderr for progress and errors.
/// Tests run commands in-process with their own writers.
/// </summary>
internal sealed class CliContext
{
    public CliContext(TextWriter output, TextWriter error, bool interactive, CancellationToken cancellation)
    {
        Out = output;
        Error = error;
        Interactive = interactive;
        Cancellation = cancellation;
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
        });
        ErrorConsole = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(error),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
        });
    }

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    /// <summary>True when stderr is a terminal: progress displays are shown only then.</summary>
    public bool Interactive { get; }

    public CancellationToken Cancellation { get; }

    public IAnsiConsole Console { get; }

    public IAnsiConsole ErrorConsole { get; }

    /// <summary>
    /// Runs <paramref name="work"/> with a live status line on stderr when a person is watching a terminal
    /// (never with --json, never when stderr is redirected, so scripts see clean streams).
    /// </summary>
    public T WithProgress<TProgress, T>(string title, bool json, Func<TProgress, string> describe, Func<IProgress<TProgress>?, T> work)
    {
        if (json || !Interactive)
        {
            return work(null);
        }

        T result = default!;
        ErrorConsole.Status().Start(title, status =>
        {
            var progress = new SynchronousProgress<TProgress>(p => status.Status($"{title}: {describe(p)}"));
            result = work(progress);
        });
        return result;
    }

    /// <summary>Reads a CSV file's selected columns, with a live row count on a terminal.</summary>
    public CsvData LoadCsv(string path, IReadOnlyList<string>? columns, bool json, bool allowEmptyRows = false) =>
        WithProgress<CsvProgress, CsvData>($"Reading {Markup.Escape(path)}", json, p => p.Describe(), p => CsvLoader.Load(path, columns, p, Cancellation, allowEmptyRows));

    /// <summary>Settles which columns a single pass over a CSV file reads (<see cref="CsvLoader.Plan"/>), with a live row count on a terminal while it scans.</summary>
    public CsvSchema PlanCsv(string path, IReadOnlyList<string>? columns, bool json) =>
        WithProgress<CsvProgress, CsvSchema>($"Reading {Markup.Escape(path)}", json, p => p.Describe(), p => CsvLoader.Plan(path, columns, p, Cancellation));

    /// <summary>Progress that reports on the calling thread (Progress&lt;T&gt; would post to a thread-pool context).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        private long _lastTicks;

        public void Report(T value)
        {
            // Throttle: EM reports every iteration, the terminal needs ~10 updates a second.
            var now = Environment.TickCount64;
            if (now - Interlocked.Read(ref _lastTicks) < 100)
            {
                return;
            }

            Interlocked.Exchange(ref _lastTicks, now);
            report(value);
        }
    }
}
