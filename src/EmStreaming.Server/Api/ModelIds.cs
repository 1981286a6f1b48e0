using EmStreaming.Runtime;

namespace EmStreaming.Server.Api;

/// <summary>
/// Model id rules, checked at the edge before an id reaches the service, a log line or a file name. The rule is
/// <see cref="GrainKey"/>'s (a model id is a grain key): 1–128 ASCII letters, digits, <c>.</c>, <c>_</c>, <c>-</c>, <c>:</c>.
/// </summary>
internal static class ModelIds
{
    /// <summary>Null when <paramref name="id"/> is a valid grain key; otherwise why not, naming it as <paramref name="what"/>.</summary>
    public static string? Validate(string? id, string what = "a model id") =>
        GrainKey.FindProblem(id) is { } problem
            ? $"{what} is 1-{GrainKey.MaxLength} characters of ASCII letters, digits, '.', '_', '-' and ':' ('.' and '..' are reserved); {problem}"
            : null;

    /// <summary>Throws <see cref="ApiValidationException"/> naming the <c>id</c> field when the id is not valid.</summary>
    public static void EnsureValid(string? id)
    {
        if (Validate(id) is { } error)
        {
            throw new ApiValidationException("id", error);
        }
    }
}
