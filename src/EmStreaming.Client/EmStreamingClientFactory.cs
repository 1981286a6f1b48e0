using EmStreaming.Client.Transport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmStreaming.Client;

/// <summary>Creates an <see cref="IEmStreamingClient"/> without dependency injection (a console tool, a script).</summary>
public static class EmStreamingClientFactory
{
    /// <summary>
    /// A client with its own connection pool, meant to live as long as the process (like a static HttpClient).
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is invalid; the message names it.</exception>
    public static IEmStreamingClient Create(EmStreamingClientOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        var handler = new RetryHandler(options, time ?? TimeProvider.System)
        {
            InnerHandler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) },
        };
        var http = new HttpClient(handler);
        Configure(http, options);
        return new EmStreamingClient(http);
    }

    internal static void Validate(EmStreamingClientOptions options)
    {
        var result = new EmStreamingClientOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(EmStreamingClientOptions), result.Failures);
        }
    }

    internal static void Configure(HttpClient http, EmStreamingClientOptions options)
    {
        // A base address ending in '/' keeps its path: requests are relative ("v1/models").
        var address = options.BaseAddress.ToString();
        http.BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        http.Timeout = options.Timeout;
        http.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        if (options.ApiKey is { } key)
        {
            http.DefaultRequestHeaders.Add("X-Api-Key", key);
        }
    }
}

/// <summary>Registers <see cref="IEmStreamingClient"/> with IHttpClientFactory.</summary>
public static class EmStreamingClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IEmStreamingClient"/> as a typed HttpClient configured by <paramref name="configure"/>
    /// (validated at first use, or at start-up with ValidateOnStart on the returned options), with the retry handler
    /// in its pipeline. Returns the HttpClient builder for further handlers.
    /// </summary>
    public static IHttpClientBuilder AddEmStreamingClient(this IServiceCollection services, Action<EmStreamingClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<EmStreamingClientOptions>().Configure(configure);
        services.AddSingleton<IValidateOptions<EmStreamingClientOptions>, EmStreamingClientOptionsValidator>();
        return services.AddHttpClient<IEmStreamingClient, EmStreamingClient>((provider, http) =>
                EmStreamingClientFactory.Configure(http, provider.GetRequiredService<IOptions<EmStreamingClientOptions>>().Value))
            .AddHttpMessageHandler(provider => new RetryHandler(
                provider.GetRequiredService<IOptions<EmStreamingClientOptions>>().Value,
                provider.GetService<TimeProvider>() ?? TimeProvider.System));
    }
}
