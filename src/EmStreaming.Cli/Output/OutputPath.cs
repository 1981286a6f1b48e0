namespace EmStreaming.Cli.Output;

/// <summary>
/// The files a command writes (--save, --viterbi, --output, --save-state): checked before the input is read, and written
/// through a temporary file that replaces the target only once complete.
/// </summary>
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

    /// <summary>
    /// Writes <paramref name="path"/> with <paramref name="write"/> through a temporary file in the same directory, flushed to
    /// disk and then moved over the target: a full disk, an I/O error, an exception in <paramref name="write"/> or Ctrl+C part-way
    /// leaves the previous file as it was and no temporary file behind, and the target may be a file the writer reads (impute's
    /// input). I/O failures become a <see cref="CliException"/> naming <paramref name="flag"/> and the path.
    /// </summary>
    public static void Write(string flag, string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var temporary = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                // Data on disk before the rename: otherwise a crash soon after can leave the new name on an empty file.
                stream.Flush(flushToDisk: true);
            }

            KeepMode(full, temporary);
            File.Move(temporary, full, overwrite: true);
        }
        // A write past the file-size limit (EFBIG) surfaces from the runtime as an ArgumentOutOfRangeException, not an IOException.
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            throw new CliException($"{flag}: cannot write {path}: {e.Message}");
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    /// <summary>Text through <see cref="Write"/>, as UTF-8 without a byte-order mark.</summary>
    public static void WriteText(string flag, string path, Action<TextWriter> write) =>
        Write(flag, path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            write(writer);
        });

    /// <summary>A file replaced keeps its permissions (a state file made private stays private).</summary>
    private static void KeepMode(string target, string temporary)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(target))
        {
            File.SetUnixFileMode(temporary, File.GetUnixFileMode(target));
        }
    }
}
