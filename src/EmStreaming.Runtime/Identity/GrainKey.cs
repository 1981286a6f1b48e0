namespace EmStreaming.Runtime;

/// <summary>
/// Validates grain keys, grain type names and stream namespaces before they reach storage, a log or a file name.
/// A valid key is 1–128 characters of ASCII letters, digits, <c>.</c>, <c>_</c>, <c>-</c> and <c>:</c>; <c>.</c> and <c>..</c> are reserved.
/// </summary>
public static class GrainKey
{
    /// <summary>Maximum key length in characters (128).</summary>
    public const int MaxLength = 128;

    /// <summary>Returns <see langword="true"/> when <paramref name="key"/> is a valid key.</summary>
    public static bool IsValid(string? key) => FindProblem(key) is null;

    /// <summary>Throws <see cref="InvalidGrainKeyException"/> when <paramref name="key"/> is not a valid key.</summary>
    /// <param name="key">The candidate key.</param>
    /// <param name="paramName">The name reported in the error (the argument or field that carried the key).</param>
    /// <exception cref="InvalidGrainKeyException">The key is null, empty, too long, reserved or holds a forbidden character.</exception>
    public static void Validate(string? key, string paramName = "key")
    {
        var problem = FindProblem(key);
        if (problem is not null)
        {
            throw new InvalidGrainKeyException(paramName, problem);
        }
    }

    /// <summary>Describes why <paramref name="key"/> is invalid, or returns null when it is valid.</summary>
    public static string? FindProblem(string? key)
    {
        if (key is null)
        {
            return "it is null";
        }

        if (key.Length == 0)
        {
            return "it is empty";
        }

        // Never echo the key itself: it may be 10 KB of hostile text headed for a log line.
        if (key.Length > MaxLength)
        {
            return $"it is {key.Length} characters long (at most {MaxLength})";
        }

        if (key is "." or "..")
        {
            return "'.' and '..' are reserved";
        }

        for (var i = 0; i < key.Length; i++)
        {
            var c = key[i];
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-' or ':'))
            {
                return $"character U+{(int)c:X4} at index {i} is not allowed";
            }
        }

        return null;
    }
}

/// <summary>A grain key, grain type name or stream namespace failed <see cref="GrainKey"/> validation.</summary>
public sealed class InvalidGrainKeyException : ArgumentException
{
    /// <summary>Creates the exception for the named parameter with the given reason.</summary>
    public InvalidGrainKeyException(string paramName, string reason)
        : base($"Invalid {paramName}: {reason}. A key is 1-{GrainKey.MaxLength} characters of ASCII letters, digits, '.', '_', '-' and ':'.", paramName)
    {
        Reason = reason;
    }

    /// <summary>Why the key was rejected, without the key itself.</summary>
    public string Reason { get; }
}
