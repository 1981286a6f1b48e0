using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using EmStreaming.Server.Api;
using EmStreaming.Server.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace EmStreaming.Server.Security;

/// <summary>Scopes an API key can hold, and the authorization policies of the same names.</summary>
internal static class ApiScopes
{
    public const string Read = "read";
    public const string Write = "write";
    public const string ClaimType = "scope";
}

/// <summary>
/// Authenticates <c>X-Api-Key: KEY</c> or <c>Authorization: Bearer KEY</c> against <c>Security:ApiKeys</c>.
/// Event streams also accept <c>?api_key=KEY</c>, because a browser's EventSource cannot send headers.
/// With no keys configured every caller gets both scopes (start-up validation allows that only on loopback
/// or when <c>Security:AllowAnonymousNonLoopback</c> is true).
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<SecurityOptions> security,
    IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";
    public const string QueryName = "api_key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var keys = security.Value.ApiKeys;
        if (keys.Count == 0)
        {
            return Task.FromResult(Success("anonymous", [ApiScopes.Read, ApiScopes.Write]));
        }

        var presented = PresentedKey();
        if (presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var presentedBytes = Encoding.UTF8.GetBytes(presented);
        for (var i = 0; i < keys.Count; i++)
        {
            // Constant-time comparison: the answer time must not tell how much of a guessed key was right.
            if (CryptographicOperations.FixedTimeEquals(presentedBytes, Encoding.UTF8.GetBytes(keys[i].Key)))
            {
                return Task.FromResult(Success(keys[i].Name ?? $"key-{i}", keys[i].Scopes));
            }
        }

        return Task.FromResult(AuthenticateResult.Fail("unknown API key"));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        var detail = PresentedKey() is null
            ? $"send an API key in the {HeaderName} header or as Authorization: Bearer KEY"
            : "the API key is not valid";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = Problems.Create(StatusCodes.Status401Unauthorized, "unauthorized", "API key required", detail, HeaderName),
        }).ConfigureAwait(false);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = Problems.Create(StatusCodes.Status403Forbidden, "forbidden", "Scope missing", "this API key lacks the scope this endpoint needs (read or write)", HeaderName),
        }).ConfigureAwait(false);
    }

    private string? PresentedKey()
    {
        if (Request.Headers.TryGetValue(HeaderName, out var header) && !string.IsNullOrEmpty(header.ToString()))
        {
            return header.ToString().Trim();
        }

        var authorization = Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }

        if (HttpMethods.IsGet(Request.Method)
            && Request.Path.Value?.EndsWith("/events", StringComparison.Ordinal) == true
            && Request.Query.TryGetValue(QueryName, out var query))
        {
            return query.ToString();
        }

        return null;
    }

    private AuthenticateResult Success(string name, IEnumerable<string> scopes)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, name) };
        claims.AddRange(scopes.Select(s => new Claim(ApiScopes.ClaimType, s)));
        var identity = new ClaimsIdentity(claims, SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}
