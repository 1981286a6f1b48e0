using System.CommandLine;
using EmStreaming.Cli;
using EmStreaming.Cli.Client;
using EmStreaming.Cli.Commands;

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

return EmStreamCli.Run(args, Console.Out, Console.Error, !Console.IsErrorRedirected, cancellation.Token);

namespace EmStreaming.Cli
{
    /// <summary>The <c>emstream</c> command tree; <see cref="Run"/> is what Main and the tests call.</summary>
    internal static class EmStreamCli
    {
        /// <summary>
        /// System.CommandLine names the .NET type a value did not convert to ("as expected type 'System.Nullable`1[System.Int32]'"):
        /// said in words instead.
        /// </summary>
        private static string Readable(string message) => System.Text.RegularExpressions.Regex.Replace(
            message,
            @"as expected type '(?:System\.Nullable`1\[)?System\.(\w+)\]?'",
            m => m.Groups[1].Value switch
            {
                "Int32" => "as a whole number from -2147483648 to 2147483647",
                "UInt64" => "as a whole number from 0 to 18446744073709551615",
                "Double" => "as a number",
                "Boolean" => "as true or false",
                var other => $"as a value of type {other}",
            });

        public static int Run(string[] args, TextWriter output, TextWriter error, bool interactive = false, CancellationToken cancellation = default)
        {
            var context = new CliContext(output, error, interactive, cancellation);
            var root = new RootCommand("emstream: Gaussian mixtures and HMMs that keep learning from streams.");
            root.Subcommands.Add(FitCommand.Create(context));
            root.Subcommands.Add(PredictCommand.Create(context));
            root.Subcommands.Add(ImputeCommand.Create(context));
            root.Subcommands.Add(StreamCommand.Create(context));
            root.Subcommands.Add(ServeCommand.Create(context));
            root.Subcommands.Add(ReplayCommand.Create(context));
            root.Subcommands.Add(ModelsCommand.Create(context));
            root.Subcommands.Add(StateCommand.Create(context));
            root.Subcommands.Add(WatchCommand.Create(context));

            var parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                foreach (var e in parse.Errors)
                {
                    error.WriteLine($"error: {Readable(e.Message)}");
                }

                error.WriteLine("Run 'emstream --help' for usage.");
                return ExitCodes.UsageError;
            }

            try
            {
                return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
            }
            catch (CliException e)
            {
                error.WriteLine($"error: {e.Message}");
                return ExitCodes.UsageError;
            }
            catch (ArgumentException e)
            {
                // The numerical core validates its inputs with ArgumentExceptions whose messages name the
                // offending row, column or option: for the CLI that is a user error, not a crash. One line, without the
                // framework's " (Parameter 'data')" and "Actual value was" additions, which name code, not flags.
                var message = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
                error.WriteLine($"error: {message.Split('\n')[0].TrimEnd()}");
                return ExitCodes.UsageError;
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                error.WriteLine("cancelled");
                return ExitCodes.Cancelled;
            }
            catch (Exception e)
            {
                // A bug: exit 1 as documented, with the stack trace to report, instead of the runtime's unhandled-exception
                // abort (exit 134 on Linux).
                error.WriteLine($"error: unexpected failure (a bug: please report it): {e}");
                return ExitCodes.InternalError;
            }
        }
    }
}
