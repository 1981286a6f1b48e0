namespace EmStreaming.Providers.Tests.TestSupport;

internal static class Wait
{
    /// <summary>Polls <paramref name="condition"/>; fails the test if it does not hold within <paramref name="limitSeconds"/> of real time (a hang guard, not a timing assertion).</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, int limitSeconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(limitSeconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting for: {what}");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Awaits a task that must finish; a hang fails the test instead of blocking the run.</summary>
    public static Task<T> Done<T>(Task<T> task, int limitSeconds = 60) => task.WaitAsync(TimeSpan.FromSeconds(limitSeconds));

    public static Task Done(Task task, int limitSeconds = 60) => task.WaitAsync(TimeSpan.FromSeconds(limitSeconds));
}
