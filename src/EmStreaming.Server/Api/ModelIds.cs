using EmStreaming.Grains.Observations;

namespace EmStreaming.Server.Api;

/// <summary>
/// Model ids are checked at the edge before an id reaches a log line or the service, by the model layer's one rule
/// (<see cref="ModelInput"/>): 1–128 ASCII letters, digits, <c>.</c>, <c>_</c>, <c>-</c>, <c>:</c>.
/// </summary>
internal static class ModelIds
{
    /// <summary>Null when <paramref name="id"/> is a valid model id; otherwise why not, naming it as <paramref name="what"/>.</summary>
    public static string? Validate(string? id, string what = "a model id") => ModelInput.FindIdProblem(id, what);

    /// <summary>Throws <see cref="ApiValidationException"/> naming the <c>id</c> field when the id is not valid.</summary>
    public static void EnsureValid(string? id)
    {
        if (Validate(id) is { } error)
        {
            throw new ApiValidationException("id", error);
        }
    }
}
