using Microsoft.Extensions.FileProviders;

namespace EmStreaming.Server.Dashboard;

/// <summary>
/// Serves the dashboard (<c>/</c>, <c>/app.js</c>, <c>/app.css</c>) from resources embedded in this assembly, so it
/// works from any working directory and with no front-end build step.
/// </summary>
internal static class DashboardExtensions
{
    public static IApplicationBuilder UseDashboard(this IApplicationBuilder app)
    {
        var files = new EmbeddedFileProvider(typeof(DashboardExtensions).Assembly, "EmStreaming.Server.Dashboard.wwwroot");
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            OnPrepareResponse = context =>
            {
                // A new build must show at once: the files are small, revalidating them is cheap.
                context.Context.Response.Headers.CacheControl = "no-cache";
            },
        });
        return app;
    }
}
