using System.Globalization;
using System.Text.Json;
using EmStreaming.Grains;
using EmStreaming.Numerics;
using EmStreaming.Server.Hosting;
using EmStreaming.Server.Security;
using EmStreaming.Server.Telemetry;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace EmStreaming.Server.Api;

/// <summary>The <c>/v1</c> API: models, observations, state, queries, snapshots, refit and events.</summary>
internal static class ModelEndpoints
{
    public const int DefaultPageSize = 100;
    public const int MaxPageSize = 1000;
    public const int DefaultRecent = 500;
    public const int MaxRecent = 10_000;
    private const string IdempotencyKeyHeader = "Idempotency-Key";
    private static readonly string[] RowContentTypes = [RowsReader.Json, RowsReader.Ndjson, RowsReader.Csv];

    public static IEndpointRouteBuilder MapModelApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").RequireRateLimiting(SecurityRegistration.RateLimitPolicy).WithTags("models");
        v1.AddEndpointFilter((context, next) =>
        {
            EnsureKnownQuery(context.HttpContext);
            return next(context);
        });
        var models = v1.MapGroup("/models");

        models.MapGet("/", ListModels).RequireAuthorization(ApiScopes.Read)
            .WithMetadata(new AcceptedQuery("prefix", "cursor", "limit"))
            .WithName("ListModels").WithSummary("List models, ordered by id, paged, optionally filtered by id prefix.")
            .Produces<ModelListResponse>().ProducesProblem(400);

        models.MapPut("/{id}", PutModel).RequireAuthorization(ApiScopes.Write)
            .WithName("PutModel").WithSummary("Create (201) or replace (200) a model definition.")
            .Accepts<ModelDefinitionDto>("application/json")
            .Produces<ModelResponse>(StatusCodes.Status200OK).Produces<ModelResponse>(StatusCodes.Status201Created).ProducesProblem(400);

        models.MapGet("/{id}", GetModel).RequireAuthorization(ApiScopes.Read)
            .WithName("GetModel").WithSummary("A model's definition and status.")
            .Produces<ModelResponse>().ProducesProblem(400).ProducesProblem(404);

        models.MapDelete("/{id}", DeleteModel).RequireAuthorization(ApiScopes.Write)
            .WithName("DeleteModel").WithSummary("Delete a model, its snapshots and its pending observations.")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(400).ProducesProblem(404);

        models.MapPost("/{id}/observations", AppendObservations).RequireAuthorization(ApiScopes.Write)
            .WithName("AppendObservations")
            .WithSummary("Append a batch of rows (JSON {\"rows\":[[...]]}, NDJSON or CSV; null/empty = missing). Accepted rows are durable when the answer is sent. An Idempotency-Key header makes a retry safe.")
            .Accepts<RowsRequest>(RowsReader.Json, RowsReader.Ndjson, RowsReader.Csv)
            .Produces<AppendResponse>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(413).ProducesProblem(415).ProducesProblem(503);

        models.MapGet("/{id}/state", GetState).RequireAuthorization(ApiScopes.Read)
            .WithName("GetState").WithSummary("Current parameters: weights, means, covariances (gmm) or start probabilities, transitions, means, covariances, regime probabilities and regime (hmm).")
            .Produces<StateResponse>().ProducesProblem(400).ProducesProblem(404);

        models.MapGet("/{id}/recent", GetRecent).RequireAuthorization(ApiScopes.Read)
            .WithMetadata(new AcceptedQuery("limit"))
            .WithName("GetRecent").WithSummary("Recent applied rows with their most likely component (gmm) or filtered regime (hmm); what the dashboard draws.")
            .Produces<RecentResponse>().ProducesProblem(400).ProducesProblem(404);

        models.MapPost("/{id}/predict", Predict).RequireAuthorization(ApiScopes.Read)
            .WithName("Predict").WithSummary("Most likely component, responsibilities, log-density and anomaly score of given rows.")
            .Accepts<RowsRequest>(RowsReader.Json, RowsReader.Ndjson, RowsReader.Csv)
            .Produces<PredictResponse>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(413);

        models.MapPost("/{id}/filter", Filter).RequireAuthorization(ApiScopes.Read)
            .WithName("Filter").WithSummary("Filtered regimes of a given sequence of rows (hmm).")
            .Accepts<RowsRequest>(RowsReader.Json, RowsReader.Ndjson, RowsReader.Csv)
            .Produces<FilterResponse>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(413);

        models.MapPost("/{id}/impute", Impute).RequireAuthorization(ApiScopes.Read)
            .WithName("Impute").WithSummary("Rows with their missing (null) entries replaced by their conditional expectation (an hmm: given the whole posted sequence, which continues the live stream).")
            .Accepts<RowsRequest>(RowsReader.Json, RowsReader.Ndjson, RowsReader.Csv)
            .Produces<ImputeResponse>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(413);

        models.MapGet("/{id}/snapshots", ListSnapshots).RequireAuthorization(ApiScopes.Read)
            .WithName("ListSnapshots").WithSummary("Snapshot history, oldest first.")
            .Produces<SnapshotInfo[]>().ProducesProblem(400).ProducesProblem(404);

        models.MapGet("/{id}/snapshots/{version:long}", GetSnapshot).RequireAuthorization(ApiScopes.Read)
            .WithName("GetSnapshot").WithSummary("One snapshot by version.")
            .Produces<SnapshotResponse>().ProducesProblem(400).ProducesProblem(404);

        models.MapGet("/{id}/snapshots/at", GetSnapshotAt).RequireAuthorization(ApiScopes.Read)
            .WithMetadata(new AcceptedQuery("time"))
            .WithName("GetSnapshotAt").WithSummary("The newest snapshot at or before ?time= (ISO 8601).")
            .Produces<SnapshotResponse>().ProducesProblem(400).ProducesProblem(404);

        models.MapPost("/{id}/snapshots/{version:long}/restore", RestoreSnapshot).RequireAuthorization(ApiScopes.Write)
            .WithName("RestoreSnapshot")
            .WithSummary("Make a snapshot of the history the model's state: a failed model recovers (records the log still holds beyond it are applied again); a healthy one rolls back (rows since are discarded).")
            .Produces<ModelResponse>().ProducesProblem(400).ProducesProblem(404);

        // A version that is not a whole number (abc, 1.0, 1e3, one past long.MaxValue) missed the {version:long} routes and
        // got the framework's bare 404 "Not Found": these catch it (a constrained route wins over them) and name the field.
        models.MapGet("/{id}/snapshots/{version}", (string id, string version) => BadVersion(id, version, 0)).RequireAuthorization(ApiScopes.Read).ExcludeFromDescription();
        models.MapPost("/{id}/snapshots/{version}/restore", (string id, string version) => BadVersion(id, version, 1)).RequireAuthorization(ApiScopes.Write).ExcludeFromDescription();

        models.MapPost("/{id}/refit", Refit).RequireAuthorization(ApiScopes.Write)
            .WithName("Refit").WithSummary("Schedule a batch refit now; its outcome arrives as a refitAdopted or refitRejected event. While warming up: the first fit on the rows so far (a ready event), or 409 with the rows still needed.")
            .Produces<RefitResponse>(StatusCodes.Status202Accepted).ProducesProblem(400).ProducesProblem(404).ProducesProblem(409);

        models.MapGet("/{id}/events", EventStream.ModelEventsAsync).RequireAuthorization(ApiScopes.Read)
            .WithMetadata(new AcceptedQuery(ApiKeyAuthenticationHandler.QueryName))
            .WithName("ModelEvents").WithSummary("Server-sent events of one model (regime changes, anomalies, refits, snapshots).")
            .Produces(StatusCodes.Status200OK, contentType: EventStream.ContentType).ProducesProblem(400).ProducesProblem(404);

        v1.MapGet("/events", EventStream.AllEventsAsync).RequireAuthorization(ApiScopes.Read)
            .WithMetadata(new AcceptedQuery(ApiKeyAuthenticationHandler.QueryName))
            .WithName("Events").WithSummary("Server-sent events of all models.")
            .Produces(StatusCodes.Status200OK, contentType: EventStream.ContentType);

        return app;
    }

    private static async Task<ModelListResponse> ListModels(HttpRequest request, IModelService service, string? prefix, string? cursor, string? limit, CancellationToken cancellationToken)
    {
        EnsureOnce(request, "prefix", "cursor", "limit");
        var size = Limit(limit, DefaultPageSize, MaxPageSize);

        if (prefix is { Length: > 0 } && ModelIds.Validate(prefix, "a prefix") is { } error)
        {
            throw new ApiValidationException("prefix", error);
        }

        // A cursor is the nextCursor of an earlier page: a model id. Anything else cannot be one the server handed out.
        if (cursor is { Length: > 0 } && ModelIds.Validate(cursor, "a cursor (the nextCursor of an earlier page: a model id)") is { } cursorError)
        {
            throw new ApiValidationException("cursor", cursorError);
        }

        var page = await service.ListModelsAsync(string.IsNullOrEmpty(prefix) ? null : prefix, string.IsNullOrEmpty(cursor) ? null : cursor, size, cancellationToken).ConfigureAwait(false);
        return new ModelListResponse(page.Models.Select(ModelResponse.From).ToArray(), page.NextCursor);
    }

    private static async Task<IResult> PutModel(string id, HttpRequest request, IModelService service, IOptions<ServerOptions> options, CancellationToken cancellationToken)
    {
        ModelIds.EnsureValid(id);
        var dto = await ReadJsonAsync<ModelDefinitionDto>(request, options.Value.MaxRequestBodyBytes, cancellationToken).ConfigureAwait(false);
        var outcome = await service.PutModelAsync(id, dto.ToDefinition(), cancellationToken).ConfigureAwait(false);
        var info = ModelResponse.From(await service.GetModelAsync(id, cancellationToken).ConfigureAwait(false));
        return outcome == PutModelOutcome.Created
            ? TypedResults.Created($"/v1/models/{id}", info)
            : TypedResults.Ok(info);
    }

    private static async Task<ModelResponse> GetModel(string id, IModelService service, CancellationToken cancellationToken)
    {
        ModelIds.EnsureValid(id);
        return ModelResponse.From(await service.GetModelAsync(id, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<IResult> DeleteModel(string id, IModelService service, CancellationToken cancellationToken)
    {
        ModelIds.EnsureValid(id);
        return await service.DeleteModelAsync(id, cancellationToken).ConfigureAwait(false)
            ? TypedResults.NoContent()
            : throw new ModelNotFoundException(id);
    }

    private static async Task<AppendResponse> AppendObservations(
        string id,
        HttpRequest request,
        IModelService service,
        ServerMetrics metrics,
        TimeProvider time,
        IOptions<ServerOptions> options,
        CancellationToken cancellationToken)
    {
        ModelIds.EnsureValid(id);
        var idempotencyKey = IdempotencyKey(request);

        var started = time.GetTimestamp();
        var rows = await RowsReader.ReadAsync(request, options.Value.MaxRequestBodyBytes, options.Value.MaxRowsPerBatch, cancellationToken).ConfigureAwait(false);

        // The edge only parses: the model layer checks the key, each row's width and values (ModelInput) in one pass.
        var result = await service.AppendRowsAsync(id, rows, idempotencyKey, cancellationToken).ConfigureAwait(false);
        var accepted = result.Accepted;
        var replayed = result.Replayed;
        var rejected = result.Rejected.Select(r => new RejectedRowDto(r.Index, r.Reason)).ToList();
        metrics.BatchAppended(accepted, rejected.Count, time.GetElapsedTime(started));
        return new AppendResponse(accepted, rejected, replayed);
    }

    private static async Task<StateResponse> GetState(string id, IModelService service, CancellationToken cancellationToken)
    {
        ModelIds.EnsureValid(id);
        return StateResponse.From(await service.GetStateAsync(id, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<RecentResponse> GetRecent(string id, string? limit, HttpRequest request, IModelService service, CancellationToken cancellationToken)
    {
        ModelIds.EnsureValid(id);
        EnsureOnce(request, "limit");
        var count = Limit(limit, DefaultRecent, MaxRecent);

        var recent = await service.GetRecentAsync(id, count, cancellationToken).ConfigureAwait(false);
        var matrix = recent.Rows;
        var rows = new double?[matrix.Rows][];
        for (var i = 0; i < matrix.Rows; i++)
        {
            var row = matrix.Row(i);
            var values = new double?[row.Length];
            for (var j = 0; j < row.Length; j++)
            {
                values[j] = double.IsNaN(row[j]) ? null : row[j];
            }

            rows[i] = values;
        }

        int[]? labels = null;
        double[][]? probabilities = null;
        if (matrix.Rows > 0)
        {
            try
            {
                var info = await service.GetModelAsync(id, cancellationToken).ConfigureAwait(false);
                if (info.Definition.Kind == ModelKind.Hmm)
                {
                    var regimes = await service.FilterAsync(id, matrix, cancellationToken).ConfigureAwait(false);
                    (labels, probabilities) = (regimes.Regimes, regimes.Probabilities);
                }
                else
                {
                    var predicted = await service.PredictAsync(id, matrix, cancellationToken).ConfigureAwait(false);
                    (labels, probabilities) = (predicted.Labels, predicted.Probabilities);
                }
            }
            catch (ModelWarmingUpException)
            {
                // No parameters yet: the rows are still worth showing, without labels.
            }
            catch (ModelValidationException)
            {
                // A stored row the query rules now refuse (one beyond ±1e100, applied before that bound existed): this GET sent
                // no rows, so a 400 naming rows[i] would blame the client; the rows are shown without labels instead.
            }
        }

        return new RecentResponse(recent.FirstObservation, matrix.Columns, rows, labels, probabilities);
    }

    private static async Task<PredictResponse> Predict(string id, HttpRequest request, IModelService service, IOptions<ServerOptions> options, CancellationToken cancellationToken)
    {
        var matrix = await ReadQueryRowsAsync(id, request, options.Value, cancellationToken).ConfigureAwait(false);
        var r = await service.PredictAsync(id, matrix, cancellationToken).ConfigureAwait(false);
        return new PredictResponse(r.Labels, r.Probabilities, r.LogDensity, r.AnomalyScore, r.TailProbability);
    }

    private static async Task<FilterResponse> Filter(string id, HttpRequest request, IModelService service, IOptions<ServerOptions> options, CancellationToken cancellationToken)
    {
        var matrix = await ReadQueryRowsAsync(id, request, options.Value, cancellationToken).ConfigureAwait(false);
        var r = await service.FilterAsync(id, matrix, cancellationToken).ConfigureAwait(false);
        return new FilterResponse(r.Regimes, r.Probabilities, r.MeanLogLikelihood, r.TailProbability, r.LogDensity ?? []);
    }

    private static async Task<ImputeResponse> Impute(string id, HttpRequest request, IModelService service, IOptions<ServerOptions> options, CancellationToken cancellationToken)
    {
        var matrix = await ReadQueryRowsAsync(id, request, options.Value, cancellationToken).ConfigureAwait(false);
        var filled = await service.ImputeAsync(id, matrix, cancellationToken).ConfigureAwait(false);
        var rows = new double[filled.Rows][];
        for (var i = 0; i < filled.Rows; i++)
        {
            rows[i] = filled.Row(i).ToArray();
        }

        return new ImputeResponse(rows);
    }

    private static async Task<SnapshotInfo[]> ListSnapshots(string id, IModelService service, CancellationToken cancellationToken)
    {
        ModelIds.EnsureValid(id);
        return [.. await service.ListSnapshotsAsync(id, cancellationToken).ConfigureAwait(false)];
    }

    private static async Task<SnapshotResponse> GetSnapshot(string id, long version, IModelService service, CancellationToken cancellationToken)
    {
        ModelIds.EnsureValid(id);
        if (version < 0)
        {
            throw new ApiValidationException("version", "must not be negative");
        }

        var view = await service.GetSnapshotAsync(id, version, null, cancellationToken).ConfigureAwait(false);
        return new SnapshotResponse(view.Info, StateResponse.From(view.State));
    }

    private static IResult BadVersion(string id, string version, long min)
    {
        ModelIds.EnsureValid(id);
        var shown = version.Length <= 40 ? version : version[..40] + "…";
        throw new ApiValidationException("version", $"'{shown}' is not a whole number between {min} and {long.MaxValue}");
    }

    private static async Task<ModelResponse> RestoreSnapshot(string id, long version, IModelService service, CancellationToken cancellationToken)
    {
        ModelIds.EnsureValid(id);
        if (version < 1)
        {
            throw new ApiValidationException("version", "must be at least 1");
        }

        await service.RestoreSnapshotAsync(id, version, cancellationToken).ConfigureAwait(false);
        return ModelResponse.From(await service.GetModelAsync(id, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<SnapshotResponse> GetSnapshotAt(string id, string? time, HttpRequest request, IModelService service, CancellationToken cancellationToken)
    {
        ModelIds.EnsureValid(id);
        EnsureOnce(request, "time");
        if (string.IsNullOrWhiteSpace(time))
        {
            throw new ApiValidationException("time", "is required (ISO 8601, for example 2025-01-31T12:00:00Z)");
        }

        if (!DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            throw new ApiValidationException("time", $"'{time}' is not an ISO 8601 date and time");
        }

        var view = await service.GetSnapshotAsync(id, null, at, cancellationToken).ConfigureAwait(false);
        return new SnapshotResponse(view.Info, StateResponse.From(view.State));
    }

    private static async Task<IResult> Refit(string id, IModelService service, CancellationToken cancellationToken)
    {
        ModelIds.EnsureValid(id);
        await service.RefitAsync(id, cancellationToken).ConfigureAwait(false);
        return TypedResults.Accepted($"/v1/models/{id}/events", new RefitResponse(id, "scheduled"));
    }

    /// <summary>
    /// The Idempotency-Key header, read here rather than bound: a header sent empty (or blank, which the server trims
    /// to empty) or twice is a 400, not silently "no key" (a retry without a key could apply a batch twice).
    /// </summary>
    /// <summary>The one Idempotency-Key header value; its length and characters are checked by the model layer (ModelInput).</summary>
    private static string? IdempotencyKey(HttpRequest request)
    {
        if (!request.Headers.TryGetValue(IdempotencyKeyHeader, out var values))
        {
            return null;
        }

        return values.Count == 1
            ? values[0] ?? ""
            : throw new ApiValidationException(IdempotencyKeyHeader, "is given more than once; send one key per request");
    }

    /// <summary>
    /// Every query parameter must be one the endpoint takes (<see cref="AcceptedQuery"/>; none when it declares none): a typo
    /// such as <c>?limt=10</c> used to fall back to the default without a word. A 400 naming the parameter and the accepted ones.
    /// </summary>
    private static void EnsureKnownQuery(HttpContext context)
    {
        var query = context.Request.Query;
        if (query.Count == 0)
        {
            return;
        }

        var accepted = context.GetEndpoint()?.Metadata.GetMetadata<AcceptedQuery>()?.Names ?? [];
        foreach (var name in query.Keys)
        {
            if (!accepted.Contains(name, StringComparer.Ordinal))
            {
                var shown = name.Length <= 40 ? name : name[..40] + "…";
                var takes = accepted.Length == 0 ? "this endpoint takes no query parameters" : $"this endpoint takes {string.Join(", ", accepted)}";
                var key = name == ApiKeyAuthenticationHandler.QueryName ? " (an API key goes in the X-Api-Key or Authorization header; ?api_key= is only for event streams)" : "";
                throw new ApiValidationException(name, $"'{shown}' is not a query parameter of {context.Request.Method} {context.Request.Path}: {takes}{key}");
            }
        }
    }

    /// <summary>
    /// A query parameter given more than once is a 400 naming it: bound as one string, <c>?prefix=a&amp;prefix=b</c> became
    /// "a,b" and was refused for a comma the client never sent (or <c>?limit=10&amp;limit=20</c> as "'10,20' is not a whole number").
    /// </summary>
    private static void EnsureOnce(HttpRequest request, params string[] names)
    {
        foreach (var name in names)
        {
            if (request.Query.TryGetValue(name, out var values) && values.Count > 1)
            {
                throw new ApiValidationException(name, $"is given {values.Count} times; send it once");
            }
        }
    }

    /// <summary>
    /// Reads <c>?limit=</c> as text, so that <c>abc</c> or <c>1e12</c> is a 400 naming the field rather than the
    /// framework's binding failure (a bare 400 without <c>field</c>).
    /// </summary>
    private static int Limit(string? text, int defaultValue, int max)
    {
        if (string.IsNullOrEmpty(text))
        {
            return defaultValue;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value is < 1 || value > max)
        {
            throw new ApiValidationException("limit", $"'{(text.Length <= 40 ? text : text[..40] + "…")}' is not a whole number between 1 and {max}");
        }

        return value;
    }

    private static async Task<DataMatrix> ReadQueryRowsAsync(string id, HttpRequest request, ServerOptions options, CancellationToken cancellationToken)
    {
        ModelIds.EnsureValid(id);
        var rows = await RowsReader.ReadAsync(request, options.MaxRequestBodyBytes, options.MaxQueryRows, cancellationToken).ConfigureAwait(false);
        return RowsReader.ToMatrix(rows);
    }

    /// <summary>Reads a JSON body into <typeparamref name="T"/>; a type error names the JSON path of the bad field.</summary>
    private static async Task<T> ReadJsonAsync<T>(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
        where T : class
    {
        // The media type, not a prefix: "application/jsonx" or "application/json, text/csv" is not JSON.
        if (request.ContentType is { } contentType && !RowsReader.IsJsonMediaType(contentType))
        {
            throw new UnsupportedContentTypeException(contentType, "application/json");
        }

        // The same bounded read as observations: a chunked body has no Content-Length to check up front.
        var read = await RowsReader.ReadBodyAsync(request, maxBytes, cancellationToken).ConfigureAwait(false);
        var body = read[(read.Length - RowsReader.WithoutBom(read.Span).Length)..];
        if (body.Span.Trim(" \t\r\n"u8).IsEmpty)
        {
            throw new ApiValidationException("body", "is empty; send a JSON object");
        }

        try
        {
            return JsonSerializer.Deserialize<T>(body.Span, ApiJson.Options)
                ?? throw new ApiValidationException("body", "must be a JSON object");
        }
        catch (JsonException e)
        {
            if (EndsEarly(body.Span))
            {
                throw new ApiValidationException("body", "is not valid JSON: it ends before the JSON is complete (was the body cut short?)");
            }

            var field = e.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : "body";
            throw new ApiValidationException(field, JsonMessage(typeof(T), field, e, body.Span));
        }
    }

    /// <summary>
    /// True when the body is well-formed JSON as far as it goes but stops before it is complete: the serializer would blame
    /// the last field it read (a truncated <c>{"kind":"gmm","dimension":2</c> was "dimension: '2' is an invalid end of a number").
    /// </summary>
    private static bool EndsEarly(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        try
        {
            while (reader.Read())
            {
            }

            return false;
        }
        catch (JsonException)
        {
            // Nothing after the last good token, or a string that is never closed.
            var rest = body[(int)Math.Min(reader.BytesConsumed, body.Length)..].TrimStart(" \t\r\n,:"u8);
            return rest.IsEmpty || (rest[0] == (byte)'"' && rest[1..].IndexOf((byte)'"') < 0);
        }
    }

    /// <summary>
    /// The serializer's message in the API's words: a wrong type says what the field takes and an unknown field lists the
    /// known ones, instead of .NET type names (<c>System.Nullable`1[System.Int32]</c>, <c>EmStreaming.Server.Api.RefitDto</c>).
    /// </summary>
    private static string JsonMessage(Type root, string field, JsonException e, ReadOnlySpan<byte> body)
    {
        var message = e.Message.Split(" Path:", 2)[0];
        var segments = field == "body" ? [] : field.Split('.');
        if (message.StartsWith("The JSON property ", StringComparison.Ordinal) && segments.Length > 0 && MemberType(root, segments[..^1]) is { } parent)
        {
            var known = parent.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
                .Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name));
            return $"is not a known field; {(segments.Length > 1 ? string.Join('.', segments[..^1]) : "the body")} takes {string.Join(", ", known)}";
        }

        if (message.StartsWith("Duplicate property ", StringComparison.Ordinal))
        {
            return "is given more than once; send each field once";
        }

        if (message.StartsWith("The JSON value could not be converted to ", StringComparison.Ordinal) && MemberType(root, segments) is { } type)
        {
            type = Nullable.GetUnderlyingType(type) ?? type;
            var given = Given(body, segments);
            var range = type == typeof(int) ? $" between {int.MinValue} and {int.MaxValue}"
                : type == typeof(long) ? $" between {long.MinValue} and {long.MaxValue}"
                : type == typeof(ulong) ? $" between 0 and {ulong.MaxValue}"
                : null;
            // The storage type's range is named only when the value sent is a whole number outside it: for a fraction or a
            // string, "between -2147483648 and 2147483647" reads as the field's own bounds, which are far narrower.
            var expected = range is not null ? "must be a whole number" + (IsWholeNumber(given) ? range : "")
                : type == typeof(double) ? "must be a finite number"
                : type == typeof(string) ? "must be a string"
                : "must be a JSON object";
            return given is not null ? $"{expected}, not {given}" : expected;
        }

        return message;
    }

    /// <summary>Whether what <see cref="Given"/> shows is a whole number (<c>-1</c>, <c>3e9</c>, <c>1e400</c>), not a fraction or another type.</summary>
    private static bool IsWholeNumber(string? given) =>
        given is [('-' or (>= '0' and <= '9')), ..]
        && double.TryParse(given, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
        && (double.IsInfinity(value) || Math.Floor(value) == value);

    /// <summary>
    /// What the body holds at a JSON path, in a client's words (<c>the string "2"</c>, <c>2.5</c>, <c>true</c>, <c>an array</c>),
    /// so that a type error says what was sent as well as what the field takes; null when the body does not parse or the
    /// path is not there. Names match as the serializer matches them: case-insensitively.
    /// </summary>
    private static string? Given(ReadOnlySpan<byte> body, string[] segments)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            var element = document.RootElement;
            foreach (var segment in segments)
            {
                if (element.ValueKind != JsonValueKind.Object)
                {
                    return null;
                }

                var found = false;
                foreach (var member in element.EnumerateObject())
                {
                    if (member.Name.Equals(segment, StringComparison.OrdinalIgnoreCase))
                    {
                        (element, found) = (member.Value, true);
                        break;
                    }
                }

                if (!found)
                {
                    return null;
                }
            }

            static string Shown(string text) => text.Length <= 40 ? text : text[..40] + "…";
            return element.ValueKind switch
            {
                JsonValueKind.String => $"the string \"{Shown(element.GetString()!)}\"",
                JsonValueKind.Number => Shown(element.GetRawText()),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                JsonValueKind.Array => "an array",
                JsonValueKind.Object => "an object",
                _ => null,
            };
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The type of the member a JSON path (camelCase segments) names, or null when there is none.</summary>
    private static Type? MemberType(Type root, IEnumerable<string> segments)
    {
        var type = root;
        foreach (var segment in segments)
        {
            var property = type.GetProperty(segment, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase);
            if (property is null)
            {
                return null;
            }

            type = property.PropertyType;
        }

        return type;
    }
}

/// <summary>The query parameters an endpoint takes (exact, case-sensitive names); see <c>ModelEndpoints.EnsureKnownQuery</c>.</summary>
internal sealed record AcceptedQuery(params string[] Names);
