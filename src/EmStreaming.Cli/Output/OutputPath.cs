namespace EmStreaming.Cli.Output;

/// <summary>Checks a file a command will write (--save, --viterbi, --output, --save-state) before it reads its input.</summary>
internal static class OutputPath
{
    /// <summary>
    /// Throws a <see cref="CliException"/> naming <paramref name="flag"/> when <paramref name="path"/> is a directory or its
    /// directory does not exist: found before the input is read and the model learned, not after, when the work is lost
    /// (and a stream's reports are already printed).
    /// </summary>
    public static void Check(string flag, string? path)
    {
        if (path is null)
        {
            return;
        }

        if (path.Length == 0)
        {
            throw new CliException($"{flag}: the file name is empty");
        }

        if (Directory.Exists(path))
        {
            throw new CliException($"{flag}: {path} is a directory, not a file");
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new CliException($"{flag}: cannot write {path}: the directory {directory} does not exist");
        }
    }
}
