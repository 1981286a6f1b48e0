using EmStreaming.Grains;

namespace EmStreaming.Server.Hosting;

/// <summary>
/// Where the server gets its <see cref="IModelService"/>: the embedded silo (SQLite stream log and snapshot store in
/// the data directory) registered by the model layer. Tests replace the registration through the host builder.
/// </summary>
internal static class SiloComposition
{
    public static void AddModelService(IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddEmStreamingModels(configuration);
    }
}
