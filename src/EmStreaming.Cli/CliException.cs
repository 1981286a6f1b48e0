namespace EmStreaming.Cli;

/// <summary>
/// A user error (bad file, bad value, bad flag). Printed as one line on stderr without a stack trace;
/// the process exits with <see cref="ExitCodes.UsageError"/>.
/// </summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>Exit codes of <c>emstream</c>, documented in the README.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    /// <summary>An unexpected failure: a bug, reported with its stack trace.</summary>
    public const int InternalError = 1;
    /// <summary>Bad arguments or bad input data: nothing was written.</summary>
    public const int UsageError = 2;
    /// <summary>The server could not be reached or answered with an error.</summary>
    public const int ServerError = 3;
    /// <summary><c>replay</c>: the server rejected some rows and applied the others.</summary>
    public const int PartlyRejected = 4;
    /// <summary>Stopped by Ctrl+C (128 + SIGINT, as shells report an interrupted program).</summary>
    public const int Cancelled = 130;
}
