using EmStreaming.Grains;
using Orleans.Dashboard;

namespace EmStreaming.Server.Hosting;

/// <summary>
/// Where the server gets its <see cref="IModelService"/>: the embedded Orleans silo hosted in this process (localhost
/// clustering, the model grains and their providers), plus Orleans' dashboard when <c>Orleans:Dashboard</c> is true.
/// Tests replace the registration through the host builder.
/// </summary>
internal static class SiloComposition
{
    /// <summary>Path of Orleans' dashboard; <c>/</c> stays ours.</summary>
    public const string OrleansDashboardPath = "/orleans";

    public static void AddModelService(IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOrleans(silo =>
        {
            silo.UseEmStreamingSilo(configuration);
            if (DashboardEnabled(configuration))
            {
                silo.AddDashboard();
            }
        });
    }

    public static bool DashboardEnabled(IConfiguration configuration) =>
        configuration.GetSection(SiloHostOptions.SectionName).Get<SiloHostOptions>()?.Dashboard ?? true;
}
