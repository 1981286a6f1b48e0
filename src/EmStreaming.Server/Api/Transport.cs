using System.Text.Json;
using System.Text.Json.Serialization;
using EmStreaming.Grains;
using EmStreaming.Numerics;

namespace EmStreaming.Server.Api;

// Transport types of the /v1 API: converted to and from the contract records at the edge, so the wire format
// (camelCase, nested matrices, "states" for HMMs, null for missing values) never leaks into the model layer.

/// <summary>
/// Body of <c>PUT /v1/models/{id}</c>. Absent fields take their defaults; for the refit and snapshot triggers
/// 0 means "never by this trigger".
/// </summary>
public sealed record ModelDefinitionDto
{
    /// <summary><c>gmm</c> or <c>hmm</c>.</summary>
    public string? Kind { get; init; }

    /// <summary>Dimension d of each observation (1..64).</summary>
    public int? Dimension { get; init; }

    /// <summary>Mixture components (gmm), 1..32.</summary>
    public int? Components { get; init; }

    /// <summary>Hidden states (hmm; an alias of <see cref="Components"/>), 1..32.</summary>
    public int? States { get; init; }

    /// <summary><c>full</c> (default), <c>diag</c>, <c>spherical</c> or <c>tied</c> (hmm: full or diag).</summary>
    public string? Covariance { get; init; }

    /// <summary>Half-life in observations of the constant step size (tracks drift).</summary>
    public double? HalfLife { get; init; }

    /// <summary>Exponent of the decaying step size, in (0.5, 1].</summary>
    public double? Alpha { get; init; }

    /// <summary>Observations per online update (default 64).</summary>
    public int? BatchSize { get; init; }

    /// <summary>
    /// Rows buffered before the first fit: at least components (or states) × (dimension + 1), at most 1,000,000; absent =
    /// automatic (gmm: max(500, 10 × free parameters); hmm: 1,000). A change starts a fresh model.
    /// </summary>
    public int? WarmUp { get; init; }

    public RefitDto? Refit { get; init; }

    public SnapshotsDto? Snapshots { get; init; }

    /// <summary>Anomaly score (negative log-density) above which an anomaly event is emitted.</summary>
    public double? AnomalyThreshold { get; init; }

    /// <summary>Tail probability (0 to 1, exclusive) below which an anomaly event is emitted: scale-free, about that share of the rows the model explains.</summary>
    public double? AnomalyTailProbability { get; init; }

    /// <summary>hmm: the filtered probability at which another regime becomes the reported one, 0.5 (the most likely regime, the default) to 1 exclusive; 0.8 changes it about as often as the regime does.</summary>
    public double? RegimeConfidence { get; init; }

    public ulong? Seed { get; init; }

    internal ModelDefinition ToDefinition()
    {
        var kind = Kind?.Trim().ToLowerInvariant() switch
        {
            "gmm" => ModelKind.Gmm,
            "hmm" => ModelKind.Hmm,
            null or "" => throw new ApiValidationException("kind", "is required: gmm or hmm"),
            _ => throw new ApiValidationException("kind", $"'{Kind}' is not one of gmm, hmm"),
        };
        if (Components is not null && States is not null && Components != States)
        {
            throw new ApiValidationException("states", "components and states are the same setting; give one of them");
        }

        var components = Components ?? States
            ?? throw new ApiValidationException(kind == ModelKind.Hmm ? "states" : "components", "is required");
        var dimension = Dimension ?? throw new ApiValidationException("dimension", "is required");
        var covariance = Covariance?.Trim().ToLowerInvariant() switch
        {
            null or "" or "full" => CovarianceType.Full,
            "diag" or "diagonal" => CovarianceType.Diag,
            "spherical" => CovarianceType.Spherical,
            "tied" => CovarianceType.Tied,
            _ => throw new ApiValidationException("covariance", $"'{Covariance}' is not one of full, diag, spherical, tied"),
        };
        var refitDefaults = new RefitPolicy();
        var snapshotDefaults = new SnapshotPolicy();
        return new ModelDefinition
        {
            Kind = kind,
            Dimension = dimension,
            Components = components,
            Covariance = covariance,
            HalfLife = HalfLife,
            Alpha = Alpha,
            BatchSize = BatchSize ?? ModelDefinition.DefaultBatchSize,
            WarmUp = WarmUp,
            Refit = new RefitPolicy
            {
                EveryObservations = Refit?.EveryObservations is { } n ? (n == 0 ? null : n) : refitDefaults.EveryObservations,
                Every = Refit?.EverySeconds is { } s ? Seconds(s, "refit.everySeconds") : refitDefaults.Every,
                Window = Refit?.Window ?? refitDefaults.Window,
                Restarts = Refit?.Restarts ?? refitDefaults.Restarts,
            },
            Snapshots = new SnapshotPolicy
            {
                EveryObservations = Snapshots?.EveryObservations is { } m ? (m == 0 ? null : m) : snapshotDefaults.EveryObservations,
                Every = Snapshots?.EverySeconds is { } t ? Seconds(t, "snapshots.everySeconds") : snapshotDefaults.Every,
                Retain = Snapshots?.Retain,
            },
            AnomalyThreshold = AnomalyThreshold,
            AnomalyTailProbability = AnomalyTailProbability,
            RegimeConfidence = RegimeConfidence,
            Seed = Seed ?? 0,
        };
    }

    internal static ModelDefinitionDto From(ModelDefinition d) => new()
    {
        Kind = Names.Of(d.Kind),
        Dimension = d.Dimension,
        Components = d.Kind == ModelKind.Gmm ? d.Components : null,
        States = d.Kind == ModelKind.Hmm ? d.Components : null,
        Covariance = d.Covariance.ToString().ToLowerInvariant(),
        HalfLife = d.HalfLife,
        Alpha = d.Alpha,
        BatchSize = d.BatchSize,
        WarmUp = d.WarmUp,
        Refit = new RefitDto
        {
            EveryObservations = d.Refit.EveryObservations ?? 0,
            EverySeconds = d.Refit.Every?.TotalSeconds ?? 0,
            Window = d.Refit.Window,
            Restarts = d.Refit.Restarts,
        },
        Snapshots = new SnapshotsDto
        {
            EveryObservations = d.Snapshots.EveryObservations ?? 0,
            EverySeconds = d.Snapshots.Every?.TotalSeconds ?? 0,
            Retain = d.Snapshots.Retain,
        },
        AnomalyThreshold = d.AnomalyThreshold,
        AnomalyTailProbability = d.AnomalyTailProbability,
        RegimeConfidence = d.RegimeConfidence,
        Seed = d.Seed,
    };

    private static TimeSpan? Seconds(double seconds, string field)
    {
        // The model layer's bound (grain timers), checked here too because TimeSpan.FromSeconds throws past ±10^7 days.
        var max = EmStreaming.Grains.Definitions.ModelDefinitionValidator.MaxEvery.TotalSeconds;
        if (!double.IsFinite(seconds) || seconds < 0 || seconds > max)
        {
            throw new ApiValidationException(field, $"must be between 0 and {max} seconds (30 days); 0 = never by time");
        }

        return seconds == 0 ? null : TimeSpan.FromSeconds(seconds);
    }
}

/// <summary>Refit policy on the wire.</summary>
public sealed record RefitDto
{
    /// <summary>Refit after this many new observations; 0 = never by count.</summary>
    public long? EveryObservations { get; init; }

    /// <summary>Refit at this interval in seconds; 0 = never by time.</summary>
    public double? EverySeconds { get; init; }

    /// <summary>Recent observations the refit uses.</summary>
    public int? Window { get; init; }

    /// <summary>Seeded restarts besides the warm start.</summary>
    public int? Restarts { get; init; }
}

/// <summary>Snapshot policy on the wire.</summary>
public sealed record SnapshotsDto
{
    /// <summary>Snapshot after this many new observations; 0 = never by count.</summary>
    public long? EveryObservations { get; init; }

    /// <summary>Snapshot at this interval in seconds when anything changed; 0 = never by time.</summary>
    public double? EverySeconds { get; init; }

    /// <summary>Snapshots kept in this model's history; absent or null = the server's <c>Storage:History:MaxVersions</c>.</summary>
    public int? Retain { get; init; }
}

/// <summary>Answer of <c>GET /v1/models/{id}</c>.</summary>
public sealed record ModelResponse(string Id, ModelDefinitionDto Definition, ModelStatus Status, DateTimeOffset CreatedAt)
{
    internal static ModelResponse From(ModelInfo info) => new(info.Id, ModelDefinitionDto.From(info.Definition), info.Status, info.CreatedAt);
}

/// <summary>Answer of <c>GET /v1/models</c>: a page ordered by id.</summary>
public sealed record ModelListResponse(IReadOnlyList<ModelResponse> Models, string? NextCursor);

/// <summary>Answer of <c>POST /v1/models/{id}/observations</c>.</summary>
public sealed record AppendResponse(int Accepted, IReadOnlyList<RejectedRowDto> Rejected, bool Replayed);

/// <summary>A rejected row: 0-based index in the batch as sent, and why.</summary>
public sealed record RejectedRowDto(int Index, string Reason);

/// <summary>Current parameters of a model; matrices are nested arrays (means K×d, covariances K×d×d, transitions K×K).</summary>
public sealed record StateResponse
{
    public required string Id { get; init; }
    public required string Kind { get; init; }
    public required int Components { get; init; }
    public required int Dimension { get; init; }
    public required long Observations { get; init; }
    public required bool WarmingUp { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public double[]? Weights { get; init; }
    public double[][]? Means { get; init; }
    public double[][][]? Covariances { get; init; }
    public double[]? StartProbabilities { get; init; }
    public double[][]? Transitions { get; init; }
    public double[]? RegimeProbabilities { get; init; }
    public int? Regime { get; init; }
    public long? RegimeRunLength { get; init; }

    internal static StateResponse From(ModelStateView v) => new()
    {
        Id = v.Id,
        Kind = Names.Of(v.Kind),
        Components = v.Components,
        Dimension = v.Dimension,
        Observations = v.Observations,
        WarmingUp = v.WarmingUp,
        UpdatedAt = v.UpdatedAt,
        Weights = v.Weights,
        Means = v.Means,
        Covariances = v.Covariances,
        StartProbabilities = v.StartProbabilities,
        Transitions = v.Transitions,
        RegimeProbabilities = v.RegimeProbabilities,
        Regime = v.Regime,
        RegimeRunLength = v.RegimeRunLength,
    };
}

/// <summary>Body of predict, filter and impute requests (also accepted as NDJSON or CSV).</summary>
public sealed record RowsRequest(double?[][] Rows);

/// <summary>Answer of <c>POST /v1/models/{id}/predict</c>; non-finite numbers are null.</summary>
public sealed record PredictResponse(int[] Labels, double[][] Probabilities, double[] LogDensity, double[] AnomalyScore, double[] TailProbability);

/// <summary>Answer of <c>POST /v1/models/{id}/filter</c>.</summary>
public sealed record FilterResponse(int[] Regimes, double[][] Probabilities, double MeanLogLikelihood, double[] TailProbability, double[] LogDensity);

/// <summary>Answer of <c>POST /v1/models/{id}/impute</c>: the rows with their missing entries filled in.</summary>
public sealed record ImputeResponse(double[][] Rows);

/// <summary>
/// Answer of <c>GET /v1/models/{id}/recent</c>: recent applied rows (null = missing), with the most likely component
/// (gmm) or filtered regime (hmm) of each row and its probabilities when the model has parameters.
/// </summary>
public sealed record RecentResponse(long FirstObservation, int Dimension, double?[][] Rows, int[]? Labels, double[][]? Probabilities);

/// <summary>A snapshot of a model's parameters.</summary>
public sealed record SnapshotResponse(SnapshotInfo Info, StateResponse State);

/// <summary>Answer of <c>POST /v1/models/{id}/refit</c>.</summary>
public sealed record RefitResponse(string Id, string Status);

/// <summary>Answer of <c>/healthz</c> and <c>/readyz</c>.</summary>
public sealed record HealthResponse(string Status);

/// <summary>Lower-case wire names of contract enums.</summary>
internal static class Names
{
    public static string Of(ModelKind kind) => kind == ModelKind.Gmm ? "gmm" : "hmm";

    public static string Of(ModelEventType type) => JsonNamingPolicy.CamelCase.ConvertName(type.ToString());
}

/// <summary>Writes non-finite doubles as null (JSON has no NaN or infinity): a log-density of −∞ must not turn into a 500.</summary>
internal sealed class FiniteDoubleConverter : JsonConverter<double>
{
    public override bool HandleNull => false;

    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDouble();

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (double.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}

/// <summary>
/// Reads a whole-number field from a JSON number with an integral value, also written with a fraction or an exponent
/// (<c>2.0</c>, <c>2e0</c>: what Python floats and JavaScript arithmetic send), if it is exactly that integer and in range.
/// Anything else (<c>2.5</c>, <c>1e400</c>, a string, a boolean) fails as the default reader fails, so the API's message
/// names the field and says what it takes.
/// </summary>
internal sealed class WholeNumberConverter<T> : JsonConverter<T>
    where T : struct, System.Numerics.IBinaryInteger<T>, System.Numerics.IMinMaxValue<T>
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.Number)
        {
            throw new JsonException();
        }

        if (typeof(T) == typeof(int) && reader.TryGetInt32(out var i))
        {
            return T.CreateChecked(i);
        }

        if (typeof(T) == typeof(long) && reader.TryGetInt64(out var l))
        {
            return T.CreateChecked(l);
        }

        if (typeof(T) == typeof(ulong) && reader.TryGetUInt64(out var u))
        {
            return T.CreateChecked(u);
        }

        // Not written as a plain integer: exact when its decimal value is an integer in range. The text is parsed as a decimal
        // (28 digits), not a double, so 9007199254740993.0 is not rounded to a neighbour; beyond decimal's range it is refused.
        var text = System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan);
        if (decimal.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
            && value == decimal.Truncate(value)
            && value >= decimal.CreateTruncating(T.MinValue) && value <= decimal.CreateTruncating(T.MaxValue))
        {
            return T.CreateChecked(value);
        }

        throw new JsonException();
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
    {
        if (typeof(T) == typeof(ulong))
        {
            writer.WriteNumberValue(ulong.CreateTruncating(value));
        }
        else
        {
            writer.WriteNumberValue(long.CreateTruncating(value));
        }
    }
}

/// <summary>Serializer settings of the API (camelCase, enums as camelCase strings, nulls omitted, numbers strictly numbers, unknown request fields rejected).</summary>
internal static class ApiJson
{
    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;

        // The web defaults read "2" as 2: a definition's numbers are numbers, and a string is a 400 naming the field.
        options.NumberHandling = JsonNumberHandling.Strict;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.Converters.Add(new FiniteDoubleConverter());
        options.Converters.Add(new WholeNumberConverter<int>());
        options.Converters.Add(new WholeNumberConverter<long>());
        options.Converters.Add(new WholeNumberConverter<ulong>());
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.AllowDuplicateProperties = false;
    }

    public static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Configure(options);
        return options;
    }
}
