using System.Net;

namespace EmStreaming.Client;

/// <summary>An RFC 7807 problem the server answered with.</summary>
/// <param name="Status">HTTP status.</param>
/// <param name="Type">Problem type, e.g. <c>urn:emstreaming:problem:validation</c>.</param>
/// <param name="Title">Short summary.</param>
/// <param name="Detail">What was wrong, in words.</param>
/// <param name="Field">The request field at fault (<c>rows[3][1]</c>, <c>limit</c>, <c>id</c>, <c>X-Api-Key</c>…), when one is.</param>
public sealed record Problem(int Status, string? Type, string? Title, string? Detail, string? Field);

/// <summary>
/// The server could not be reached, or answered with an error (<see cref="Problem"/> then holds its problem+json).
/// Specific failures have their own subclasses.
/// </summary>
public class EmStreamingException : Exception
{
    public EmStreamingException(string message, Problem? problem = null, Exception? inner = null)
        : base(message, inner)
    {
        Problem = problem;
    }

    /// <summary>The server's answer; null when there was none (connection refused, timeout).</summary>
    public Problem? Problem { get; }

    /// <summary>The HTTP status; null when there was no answer.</summary>
    public HttpStatusCode? StatusCode => Problem is { } p ? (HttpStatusCode)p.Status : null;
}

/// <summary>400, 413 or 415: the request was refused for what it holds; <see cref="Field"/> names what.</summary>
public sealed class InvalidRequestException(string message, Problem problem) : EmStreamingException(message, problem)
{
    /// <summary>The field at fault (<c>rows[3][1]</c>, <c>limit</c>, <c>body</c>, <c>Content-Type</c>…), when the server named one.</summary>
    public string? Field => Problem!.Field;
}

/// <summary>401 or 403: no API key, a wrong one, or one without the scope the endpoint needs.</summary>
public sealed class AccessDeniedException(string message, Problem problem) : EmStreamingException(message, problem);

/// <summary>404: no such model.</summary>
public sealed class ModelNotFoundException(string message, Problem problem) : EmStreamingException(message, problem);

/// <summary>
/// 404 with type <c>urn:emstreaming:problem:snapshot-not-found</c>: the model exists but its history holds no snapshot by
/// that version, or none at or before that time (<see cref="Field"/> is <c>version</c> or <c>time</c>).
/// </summary>
public sealed class SnapshotNotFoundException(string message, Problem problem) : EmStreamingException(message, problem)
{
    /// <summary>The problem type the server gives a snapshot its history does not hold.</summary>
    public const string ProblemType = "urn:emstreaming:problem:snapshot-not-found";

    /// <summary>The request parameter that found nothing: <c>version</c> or <c>time</c>.</summary>
    public string? Field => Problem!.Field;
}

/// <summary>409: the model is warming up (no parameters yet) or the request conflicts with its state (an Idempotency-Key reused for another batch).</summary>
public sealed class ModelConflictException(string message, Problem problem) : EmStreamingException(message, problem)
{
    /// <summary>True when the model has no parameters yet: retry once it has seen enough rows.</summary>
    public bool IsWarmingUp => Problem!.Type?.EndsWith(":warming-up", StringComparison.Ordinal) == true;
}

/// <summary>429 or 503 after the client's retries ran out: the server is rate limiting this caller or is busy.</summary>
public sealed class ServerBusyException(string message, Problem problem, TimeSpan? retryAfter) : EmStreamingException(message, problem)
{
    /// <summary>How long the server asked to wait (Retry-After), when it said.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>
/// 503 with type <c>urn:emstreaming:problem:model-unavailable</c>: this model's stored state cannot be read, so it answers
/// nothing until an operator restores a snapshot (<see cref="IEmStreamingClient.RestoreSnapshotAsync"/>), replaces its
/// definition or deletes it. Waiting does not help, so the client does not retry it; other models are not affected.
/// </summary>
public sealed class ModelUnavailableException(string message, Problem problem) : EmStreamingException(message, problem)
{
    /// <summary>The problem type the server gives an unavailable model.</summary>
    public const string ProblemType = "urn:emstreaming:problem:model-unavailable";
}
