using System.Text.Json;
using EmStreaming.Cli.Commands;
using EmStreaming.Cli.Output;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Cli.ModelFiles;

/// <summary>
/// The model file written by <c>fit --save</c> and read by <c>predict</c>: a versioned JSON document holding
/// the parameters in their natural layout and the names of the columns they were fitted on, so that
/// <c>predict</c> selects the same columns of a new file.
/// </summary>
internal static class ModelFile
{
    public const string Format = "emstreaming-model";
    public const int Version = 1;

    /// <summary>Writes the file of <c>fit --save</c> (through <see cref="OutputPath.Write"/>: a failed write leaves the previous file).</summary>
    public static void SaveGmm(string path, GaussianMixture model, IReadOnlyList<string> columns)
    {
        var json = Json.Write(w =>
        {
            WriteHeader(w, "gmm", model.CovarianceType, "components", model.Components, model.Dimension, columns);
            w.Vector("weights", model.Weights);
            w.Matrix("means", model.Means, model.Components, model.Dimension);
            w.Vector("covarianceValues", model.Covariances);
            w.WriteEndObject();
        }, indented: true);
        OutputPath.WriteText("--save", path, w => w.Write(json + Environment.NewLine));
    }

    /// <summary>Writes the file of <c>fit --model hmm --save</c>: start probabilities, transitions and the states' emissions.</summary>
    public static void SaveHmm(string path, GaussianHmm model, IReadOnlyList<string> columns)
    {
        var json = Json.Write(w =>
        {
            WriteHeader(w, "hmm", model.CovarianceType, "states", model.States, model.Dimension, columns);
            w.Vector("startProbabilities", model.StartProbabilities);
            w.Matrix("transitions", model.Transitions, model.States, model.States);
            w.Matrix("means", model.Means, model.States, model.Dimension);
            w.Vector("covarianceValues", model.Covariances);
            w.WriteEndObject();
        }, indented: true);
        OutputPath.WriteText("--save", path, w => w.Write(json + Environment.NewLine));
    }

    /// <summary>Opens the document: format, version, kind, covariance type, the number of components or states, dimension, columns.</summary>
    private static void WriteHeader(
        System.Text.Json.Utf8JsonWriter w, string kind, CovarianceType covariance, string countName, int count, int dimension, IReadOnlyList<string> columns)
    {
        w.WriteStartObject();
        w.WriteString("format", Format);
        w.WriteNumber("version", Version);
        w.WriteString("kind", kind);
        w.WriteString("covariance", GmmArguments.Name(covariance));
        w.WriteNumber(countName, count);
        w.WriteNumber("dimension", dimension);
        w.WriteStartArray("columns");
        foreach (var c in columns)
        {
            w.WriteStringValue(c);
        }

        w.WriteEndArray();
    }

    /// <summary>A model file's model: a mixture or an HMM (one of the two is set), and the columns it was fitted on.</summary>
    public sealed record Loaded(GaussianMixture? Gmm, GaussianHmm? Hmm, string[] Columns);

    /// <summary>Reads a model file of either kind.</summary>
    public static Loaded Load(string path)
    {
        InputPath.Check(path, "model file");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            var kind = CheckHeader(path, root);
            if (kind == "gmm")
            {
                var (gmm, columns) = ReadGmm(path, root);
                return new Loaded(gmm, null, columns);
            }

            if (kind == "hmm")
            {
                var (hmm, columns) = ReadHmm(path, root);
                return new Loaded(null, hmm, columns);
            }

            throw new CliException($"{path}: a model file holds a gmm or an hmm; this one says '{kind}'");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new CliException($"{path}: malformed model file ({e.Message})");
        }
        catch (ArgumentException e)
        {
            throw new CliException($"{path}: invalid parameters ({e.Message})");
        }
    }

    private static string? CheckHeader(string path, JsonElement root)
    {
        if (!root.TryGetProperty("format", out var format) || format.GetString() != Format)
        {
            throw new CliException($"{path} is not an EmStreaming model file (write one with 'emstream fit --save')");
        }

        var version = root.GetProperty("version").GetInt32();
        if (version != Version)
        {
            throw new CliException($"{path}: model file version {version} is not supported (this emstream reads version {Version})");
        }

        return root.GetProperty("kind").GetString();
    }

    private static string[] Columns(string path, JsonElement root, int d)
    {
        var columns = root.GetProperty("columns").EnumerateArray().Select(e => e.GetString() ?? "").ToArray();
        if (columns.Length != d)
        {
            throw new CliException($"{path}: {columns.Length} column names for dimension {d}");
        }

        if (columns.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new CliException($"{path}: the model file names column '{twice.Key}' twice");
        }

        return columns;
    }

    private static (GaussianHmm Model, string[] Columns) ReadHmm(string path, JsonElement root)
    {
        var k = root.GetProperty("states").GetInt32();
        var d = root.GetProperty("dimension").GetInt32();
        var covariance = GmmArguments.ParseCovariance(root.GetProperty("covariance").GetString() ?? "");
        if (covariance is not (CovarianceType.Full or CovarianceType.Diag))
        {
            throw new CliException($"{path}: an hmm's covariance is full or diag, not {GmmArguments.Name(covariance)}");
        }

        var columns = Columns(path, root, d);
        var start = root.GetProperty("startProbabilities").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var transitions = root.GetProperty("transitions").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(e => e.GetDouble())).ToArray();
        var means = root.GetProperty("means").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(e => e.GetDouble())).ToArray();
        var cov = root.GetProperty("covarianceValues").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        // The sizes are checked against what the file holds before any array is made for them (as for a mixture).
        if (start.Length != k)
        {
            throw new CliException($"{path}: {start.Length} start probabilities for {k} states");
        }

        if (transitions.LongLength != (long)k * k)
        {
            throw new CliException($"{path}: {transitions.LongLength} transition probabilities for {k} states (expected {(long)k * k})");
        }

        if (means.LongLength != (long)k * d)
        {
            throw new CliException($"{path}: {means.LongLength} mean values for {k} states of dimension {d} (expected {(long)k * d})");
        }

        var expected = covariance == CovarianceType.Full ? (long)k * d * d : (long)k * d;
        if (cov.LongLength != expected)
        {
            throw new CliException($"{path}: {cov.LongLength} covariance values for {k} {GmmArguments.Name(covariance)} states of dimension {d} (expected {expected})");
        }

        return (GaussianHmm.Create(start, transitions, means, cov, k, d, covariance), columns);
    }

    private static (GaussianMixture Model, string[] Columns) ReadGmm(string path, JsonElement root)
    {
        var k = root.GetProperty("components").GetInt32();
        var d = root.GetProperty("dimension").GetInt32();
        var covariance = GmmArguments.ParseCovariance(root.GetProperty("covariance").GetString() ?? "");
        var columns = Columns(path, root, d);
        var weights = root.GetProperty("weights").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var means = root.GetProperty("means").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(e => e.GetDouble())).ToArray();
        var cov = root.GetProperty("covarianceValues").EnumerateArray().Select(e => e.GetDouble()).ToArray();

        // The sizes are checked against what the file holds before any array is made for them: components and dimension
        // are only numbers in the file, and K × d × d of hostile ones overflows (or asks for gigabytes).
        if (weights.Length != k)
        {
            throw new CliException($"{path}: {weights.Length} weights for {k} components");
        }

        if (means.LongLength != (long)k * d)
        {
            throw new CliException($"{path}: {means.LongLength} mean values for {k} components of dimension {d} (expected {(long)k * d})");
        }

        var expected = covariance switch
        {
            CovarianceType.Full => (long)k * d * d,
            CovarianceType.Diag => (long)k * d,
            CovarianceType.Spherical => k,
            _ => (long)d * d,
        };
        if (cov.LongLength != expected)
        {
            throw new CliException($"{path}: {cov.LongLength} covariance values for {k} {GmmArguments.Name(covariance)} components of dimension {d} (expected {expected})");
        }

        return (GaussianMixture.Create(weights, means, cov, k, d, covariance), columns);
    }
}
