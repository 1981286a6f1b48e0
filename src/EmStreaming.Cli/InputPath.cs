namespace EmStreaming.Cli;

/// <summary>Checks a file a command reads (the CSV input, predict's model file, --resume-state) before it is opened.</summary>
internal static class InputPath
{
    /// <summary>
    /// Throws a <see cref="CliException"/> when <paramref name="path"/> is empty, a directory or missing, naming it as
    /// <paramref name="kind"/> ("file", "model file", "--resume-state: state file"): a directory used to be reported as
    /// "not found" or as a denied access.
    /// </summary>
    public static void Check(string path, string kind)
    {
        if (path.Length == 0)
        {
            throw new CliException($"{kind}: the file name is empty");
        }

        if (Directory.Exists(path))
        {
            throw new CliException($"{kind} {path} is a directory, not a file");
        }

        if (!File.Exists(path))
        {
            throw new CliException($"{kind} not found: {path}");
        }
    }
}
