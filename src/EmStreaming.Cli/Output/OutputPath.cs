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
        // A symbolic link is written through: its target gets the new content and the link stays (a rename over the link
        // replaced it with a regular file, and the file it pointed to kept the old content).
        var full = Path.GetFullPath(path);
        if (new FileInfo(full).LinkTarget is not null && new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target)
        {
            full = target.FullName;
        }

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
            SyncDirectory(Path.GetDirectoryName(full));
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

    /// <summary>
    /// Flushes a directory, so the rename itself survives a power failure (the file's data was flushed before it). Linux and
    /// macOS only; a file system that cannot flush a directory is left as it is: the data is safe, only the name may be old.
    /// </summary>
    private static void SyncDirectory(string? directory)
    {
        if (directory is null || OperatingSystem.IsWindows())
        {
            return;
        }

        // .NET does not open directories as files, so through glibc: open(O_RDONLY), fsync, close. Failures are ignored (and
        // elsewhere, without libc.so.6, nothing is done).
        try
        {
            var fd = Native.open(directory, 0);
            if (fd >= 0)
            {
                _ = Native.fsync(fd);
                _ = Native.close(fd);
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    private static class Native
    {
        [System.Runtime.InteropServices.DllImport("libc.so.6", SetLastError = true)]
        public static extern int open([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, int flags);

        [System.Runtime.InteropServices.DllImport("libc.so.6", SetLastError = true)]
        public static extern int fsync(int fd);

        [System.Runtime.InteropServices.DllImport("libc.so.6", SetLastError = true)]
        public static extern int close(int fd);
    }

    /// <summary>A file replaced keeps its permissions (a state file made private stays private).</summary>
    private static void KeepMode(string target, string temporary)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(target))
        {
            File.SetUnixFileMode(temporary, File.GetUnixFileMode(target));
        }
    }
}
