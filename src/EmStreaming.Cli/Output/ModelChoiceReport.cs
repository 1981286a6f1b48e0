using System.Globalization;
using System.Text.Json;

namespace EmStreaming.Cli.Output;

/// <summary>What the mixture's and the HMM's choice by BIC report: the reason's tail and the JSON <c>chosen</c> object.</summary>
internal static class ModelChoiceReport
{
    /// <summary>One candidate as reported: K, its covariance type (null for an HMM's states), BIC and its underdetermined count.</summary>
    public readonly record struct Candidate(int K, string? Covariance, double Bic, int Underdetermined);

    /// <summary>
    /// "; next: …" (the supported runner-up) and "; passed over …" (fits with a <paramref name="part"/> on too few rows) for
    /// the reason a choice gives; <paramref name="best"/> is the index of the chosen candidate.
    /// </summary>
    public static string Tail(IReadOnlyList<Candidate> candidates, int best, string part, string passedReason = "")
    {
        var chosen = candidates[best];
        var runnerUp = candidates.Where((c, i) => i != best && c.Underdetermined == 0).OrderBy(c => c.Bic).Cast<Candidate?>().FirstOrDefault();
        var tail = runnerUp is { } r
            ? $"; next: K={r.K}{(r.Covariance is null ? "" : " " + r.Covariance)}, BIC +{(r.Bic - chosen.Bic).ToString("F1", CultureInfo.InvariantCulture)}"
            : "";
        var passed = candidates.Where((c, i) => i != best && c.Underdetermined > 0).Count();
        if (passed > 0 && chosen.Underdetermined == 0)
        {
            tail += $"; passed over {passed} fit(s) with a {part} on too few rows to determine it{passedReason}";
        }

        return tail;
    }

    /// <summary>The position of <paramref name="item"/> (by reference) in <paramref name="list"/>.</summary>
    public static int IndexOf<T>(IReadOnlyList<T> list, T item) where T : class
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (ReferenceEquals(list[i], item))
            {
                return i;
            }
        }

        throw new ArgumentException("the item is not in the list", nameof(item));
    }

    /// <summary>Writes <c>"chosen": {by: "bic", why, candidates: [{k, covariance?, bic, underdetermined}]}</c>.</summary>
    public static void WriteChosen(Utf8JsonWriter w, string? why, IEnumerable<Candidate> candidates)
    {
        w.WriteStartObject("chosen");
        w.WriteString("by", "bic");
        w.WriteString("why", why);
        w.WriteStartArray("candidates");
        foreach (var c in candidates)
        {
            w.WriteStartObject();
            w.WriteNumber("k", c.K);
            if (c.Covariance is not null)
            {
                w.WriteString("covariance", c.Covariance);
            }

            w.Number("bic", c.Bic);
            w.WriteNumber("underdetermined", c.Underdetermined);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }
}
