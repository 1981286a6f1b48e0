namespace EmStreaming.Grains.Tests.TestSupport;

internal static class Wait
{
    /// <summary>Polls <paramref name="condition"/>; fails the test if it does not hold within <paramref name="limitSeconds"/> of real time (a hang guard, not a timing assertion).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, int limitSeconds = 30)
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

    public static Task UntilAsync(Func<bool> condition, string what, int limitSeconds = 30) => UntilAsync(() => Task.FromResult(condition()), what, limitSeconds);
}
