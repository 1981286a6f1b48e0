namespace EmStreaming.Runtime;

/// <summary>Setter guards that name the setting, so a bad value in appsettings.json fails with a clear message.</summary>
internal static class OptionGuard
{
    public static int Positive(int value, string setting)
    {
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException(setting, value, $"{setting} must be greater than zero.");
        }

        return value;
    }

    public static int InRange(int value, int min, int max, string setting)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(setting, value, $"{setting} must be between {min} and {max}.");
        }

        return value;
    }

    public static TimeSpan Positive(TimeSpan value, string setting)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(setting, value, $"{setting} must be greater than zero.");
        }

        return value;
    }
}
