namespace EmStreaming.Runtime.Tests.TestSupport;

internal static class Wait
{
    /// <summary>Polls <paramref name="condition"/> with tiny yields; fails the test if it does not hold within <paramref name="limitSeconds"/> of real time (a hang guard, not a timing assertion).</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, int limitSeconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(limitSeconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting for: {what}");
            }

            await Task.Delay(1);
        }
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, string what, int limitSeconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(limitSeconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting for: {what}");
            }

            await Task.Delay(1);
        }
    }

    /// <summary>Awaits a task that must finish; a hang fails the test instead of blocking the run.</summary>
    public static Task<T> Done<T>(Task<T> task, int limitSeconds = 20) => task.WaitAsync(TimeSpan.FromSeconds(limitSeconds));

    public static Task Done(Task task, int limitSeconds = 20) => task.WaitAsync(TimeSpan.FromSeconds(limitSeconds));
}

/// <summary>A fresh directory per test, deleted at dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emstreaming-runtime-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    internal Sqlite.SqliteOptions SqliteOptions => new() { DataDirectory = Path, FullSync = false };

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a pooled handle may still be closing.
        }
    }
}
