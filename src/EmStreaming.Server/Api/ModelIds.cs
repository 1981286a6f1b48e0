namespace EmStreaming.Server.Api;

/// <summary>Model id rules, checked at the edge before an id reaches the service, a log line or a file name.</summary>
internal static class ModelIds
{
    public const int MaxLength = 128;

    /// <summary>Null when <paramref name="id"/> is 1–128 characters of ASCII letters, digits, <c>.</c>, <c>_</c>, <c>-</c>, <c>:</c>; otherwise why not.</summary>
    public static string? Validate(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return "a model id must not be empty";
        }

        if (id.Length > MaxLength)
        {
            return $"a model id has at most {MaxLength} characters (this one has {id.Length})";
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':'))
            {
                return "a model id may contain only ASCII letters, digits, '.', '_', '-' and ':'";
            }
        }

        return id is "." or ".." ? "a model id must not be '.' or '..'" : null;
    }

    /// <summary>Throws <see cref="ApiValidationException"/> naming the <c>id</c> field when the id is not valid.</summary>
    public static void EnsureValid(string? id)
    {
        if (Validate(id) is { } error)
        {
            throw new ApiValidationException("id", error);
        }
    }
}
