using EmStreaming.Grains;
using EmStreaming.Server.Hosting;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EmStreaming.Server.Api;

/// <summary>RFC 7807 bodies: every error the API answers is <c>application/problem+json</c> with a type, a title and, for bad input, the field.</summary>
internal static class Problems
{
    public const string ContentType = "application/problem+json";

    public static ProblemDetails Create(int status, string type, string title, string? detail, string? field = null)
    {
        var problem = new ProblemDetails
        {
            Status = status,
            Type = $"urn:emstreaming:problem:{type}",
            Title = title,
            Detail = detail,
        };
        if (field is not null)
        {
            problem.Extensions["field"] = field;
        }

        return problem;
    }

    /// <summary>Maps an exception to its problem, or null when it is a bug (500).</summary>
    public static ProblemDetails? FromException(Exception exception, int retryAfterSeconds) => exception switch
    {
        ApiValidationException e => Create(StatusCodes.Status400BadRequest, "validation", "Invalid request", $"{e.Field}: {e.Message}", e.Field),
        ModelValidationException e => Create(StatusCodes.Status400BadRequest, "validation", "Invalid request", $"{e.Field}: {e.Message}", e.Field),
        ModelNotFoundException e => Create(StatusCodes.Status404NotFound, "not-found", "Model not found", e.Message, "id"),
        SnapshotNotFoundException e => WithExtension(
            Create(StatusCodes.Status404NotFound, "snapshot-not-found", "Snapshot not found", $"{e.Message}; GET /v1/models/{e.Id}/snapshots lists the versions it holds", e.Field),
            "modelId",
            e.Id),
        ModelWarmingUpException e => WithExtension(Create(StatusCodes.Status409Conflict, "warming-up", "Model is warming up", e.Message), "remaining", e.Remaining),
        ModelConflictException e => Create(StatusCodes.Status409Conflict, "conflict", "Conflict", e.Message),
        ModelUnavailableException e => WithExtension(
            Create(
                StatusCodes.Status503ServiceUnavailable, "model-unavailable", "Model unavailable",
                $"{e.Message}. Other models are not affected. Recovery: restore a snapshot (GET /v1/models/{e.Id}/snapshots, then " +
                $"POST /v1/models/{e.Id}/snapshots/{{version}}/restore), replace its definition, or delete it."),
            "modelId",
            e.Id),
        PayloadTooLargeException e => Create(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "Request body too large", e.Message, "body"),
        UnsupportedContentTypeException e => Create(StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type", "Unsupported Content-Type", e.Message, "Content-Type"),
        UnsupportedContentEncodingException e => Create(StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type", $"Unsupported {e.Header}", e.Message, e.Header),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } e =>
            Create(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "Request body too large", e.Message, "body"),
        BadHttpRequestException e => Create(e.StatusCode, "bad-request", "Bad request", e.Message),
        TimeoutException e => WithExtension(
            Create(StatusCodes.Status503ServiceUnavailable, "backpressure", "Server busy", e.Message),
            "retryAfterSeconds",
            retryAfterSeconds),
        _ => null,
    };

    private static ProblemDetails WithExtension(ProblemDetails problem, string name, object value)
    {
        problem.Extensions[name] = value;
        return problem;
    }
}

/// <summary>
/// Turns exceptions into problem+json: the contract's exceptions keep their meaning (404, 400, 409, 503 with
/// Retry-After for backpressure; 503 without it for a model whose stored state cannot be read: waiting does not help);
/// anything else is a bug, logged with its stack trace and answered 500 without details.
/// </summary>
internal sealed class ProblemExceptionHandler(
    IProblemDetailsService problems,
    IOptions<ServerOptions> options,
    ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody reads an answer.
            return true;
        }

        var retryAfter = options.Value.RetryAfterSeconds;
        var problem = Problems.FromException(exception, retryAfter);
        if (problem is null)
        {
            logger.LogError(exception, "Unhandled error on {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
            problem = Problems.Create(StatusCodes.Status500InternalServerError, "internal", "Internal server error", "an unexpected error occurred; it was logged");
        }
        else if (problem.Status == StatusCodes.Status503ServiceUnavailable && exception is not ModelUnavailableException)
        {
            httpContext.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = problem,
            Exception = exception,
        }).ConfigureAwait(false);
    }
}

/// <summary>
/// Writes every problem as <c>application/problem+json</c>, whatever the request's Accept header says. ASP.NET's default
/// writer declines when the client accepts neither JSON nor <c>*/*</c> (a browser's EventSource sends
/// <c>text/event-stream</c>), and a declined problem became a 500 with an empty body or a bare status: an error
/// body the client did not ask for is still more useful than none.
/// </summary>
internal sealed class ProblemJsonWriter(IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, IOptions<ProblemDetailsOptions> options) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var problem = context.ProblemDetails;
        problem.Status ??= http.Response.StatusCode;
        problem.Title ??= ReasonPhrases.GetReasonPhrase(problem.Status.Value);
        problem.Type ??= $"https://tools.ietf.org/html/rfc9110#status-{problem.Status.Value}";
        options.Value.CustomizeProblemDetails?.Invoke(context);
        return new ValueTask(http.Response.WriteAsJsonAsync(problem, json.Value.SerializerOptions, Problems.ContentType, http.RequestAborted));
    }
}

/// <summary>
/// Words the framework's own routing answers, which came as problem+json with a title and nothing else: a 404 for a path
/// no route matches and a 405 for a method a matched path does not take. Every answer the API's endpoints write carries a
/// detail already, so a problem without one at these statuses is routing's (through the status-code pages).
/// </summary>
internal static class RouteProblems
{
    /// <summary>At most this many characters of the path are echoed back: a 10,000-character path is not worth repeating.</summary>
    private const int MaxShownPath = 200;

    private static string Shorten(string text) => text.Length <= MaxShownPath ? text : text[..MaxShownPath] + "…";

    public static void Describe(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem.Detail is not null || problem.Status is not (StatusCodes.Status404NotFound or StatusCodes.Status405MethodNotAllowed))
        {
            return;
        }

        var http = context.HttpContext;
        var request = http.Request;

        // Escaped (ToUriComponent) so that control characters, bidi marks or a raw '%' are shown as sent, not acted on.
        var path = Shorten((request.PathBase + request.Path).ToUriComponent());

        // The server resolves dot segments before routing (/v1/models/.. is /v1/): show what was sent as well.
        if (http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget is { Length: > 0 } raw
            && Shorten(raw.Split('?', 2)[0]) is var sent && sent != path && sent.StartsWith('/'))
        {
            path = $"{path} (sent as {sent})";
        }

        var method = request.Method.Length <= 20 ? request.Method : request.Method[..20] + "…";
        if (problem.Status == StatusCodes.Status404NotFound)
        {
            problem.Type = "urn:emstreaming:problem:no-route";
            problem.Detail = $"no endpoint answers {method} {path}; the API is under /v1/models and /v1/events (the list is at /openapi/v1.json)";
            problem.Extensions.TryAdd("field", "path");
            return;
        }

        // Routing's 405 sets Allow (RFC 9110 requires it); say the same in the body.
        var allow = http.Response.Headers.Allow.ToString();
        problem.Type = "urn:emstreaming:problem:method-not-allowed";
        problem.Detail = allow.Length > 0
            ? $"{method} is not allowed on {path}; it allows {allow}"
            : $"{method} is not allowed on {path}";
        problem.Extensions.TryAdd("field", "method");
        if (allow.Length > 0)
        {
            problem.Extensions.TryAdd("allow", allow.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        }
    }
}

/// <summary>Registration of the API's error answers.</summary>
internal static class ProblemRegistration
{
    /// <summary>Problem details written as problem+json for every Accept header, the exception handler that maps the API's exceptions, and problem bodies for Kestrel's own 400s.</summary>
    public static IServiceCollection AddApiProblems(this IServiceCollection services)
    {
        // Registered before AddProblemDetails' default writer: writers are asked in registration order.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProblemDetailsWriter, ProblemJsonWriter>());
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            RouteProblems.Describe(context);

            // The framework answers 415 itself (the endpoints declare what they accept): the header is what is at fault.
            if (context.ProblemDetails.Status == StatusCodes.Status415UnsupportedMediaType)
            {
                context.ProblemDetails.Extensions.TryAdd("field", "Content-Type");
                if (context.ProblemDetails.Type?.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal) != false)
                {
                    // The framework's own 415 carried the RFC's link: the same type as the API's own 415s.
                    context.ProblemDetails.Type = "urn:emstreaming:problem:unsupported-media-type";
                }


                // The framework's own 415 (routing matched no Accepts) carried no detail: say what was sent and what is read.
                // curl -d without -H sends application/x-www-form-urlencoded, the commonest way to get here.
                var request = context.HttpContext.Request;
                context.ProblemDetails.Detail ??= $"Content-Type '{request.ContentType}' is not supported; send " +
                    (HttpMethods.IsPut(request.Method) ? "application/json" : RowsReader.Supported);
            }
        });
        services.AddExceptionHandler<ProblemExceptionHandler>();

        // Kestrel's own rejections (an encoded NUL in the path, a malformed request line) come before any middleware.
        services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.Use(BadRequestProblems.Wrap)));
        return services;
    }
}
