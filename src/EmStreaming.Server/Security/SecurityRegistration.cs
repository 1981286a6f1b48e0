using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using EmStreaming.Server.Api;
using EmStreaming.Server.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace EmStreaming.Server.Security;

/// <summary>API-key authentication, read/write authorization policies and the per-client rate limiter.</summary>
internal static class SecurityRegistration
{
    public const string RateLimitPolicy = "per-client";

    public static IServiceCollection AddApiSecurity(this IServiceCollection services)
    {
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(ApiScopes.Read, p => p.RequireClaim(ApiScopes.ClaimType, ApiScopes.Read))
            .AddPolicy(ApiScopes.Write, p => p.RequireClaim(ApiScopes.ClaimType, ApiScopes.Write));

        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(RateLimitPolicy, context =>
            {
                var options = context.RequestServices.GetRequiredService<IOptions<RateLimitingOptions>>().Value;
                if (!options.Enabled)
                {
                    return RateLimitPartition.GetNoLimiter("disabled");
                }

                // A key's name when one authenticated the request, the client's address otherwise: one bucket per caller.
                var partition = context.User.Identity is { IsAuthenticated: true, Name: { } name } && name != "anonymous"
                    ? "key:" + name
                    : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
                return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = options.Burst,
                    TokensPerPeriod = options.PermitsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                var problems = context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>();
                await problems.WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context.HttpContext,
                    ProblemDetails = Problems.Create(StatusCodes.Status429TooManyRequests, "rate-limited", "Too many requests",
                        $"this client exceeded {RateLimitingOptions.SectionName}:{nameof(RateLimitingOptions.PermitsPerSecond)}; retry after {retryAfter} s"),
                }).ConfigureAwait(false);
            };
        });
        return services;
    }

    /// <summary>The caller's name for logs (API key name or "anonymous").</summary>
    public static string CallerName(this ClaimsPrincipal user) => user.Identity?.Name ?? "anonymous";
}
