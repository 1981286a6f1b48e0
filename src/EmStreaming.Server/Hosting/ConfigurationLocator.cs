using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace EmStreaming.Server.Hosting;

/// <summary>
/// Finds the one settings file the server reads, so it behaves the same started from the repository root
/// (<c>dotnet run</c>), through <c>emstream serve</c> from any directory, or under a test host.
/// </summary>
internal static class ConfigurationLocator
{
    public const string EnvironmentVariable = "EMSTREAM_CONFIG";
    public const string FileName = "appsettings.json";

    /// <summary>The explicit file, <c>EMSTREAM_CONFIG</c>, the working directory's file, or the one beside the program; null when none exists.</summary>
    /// <exception cref="FileNotFoundException">An explicitly named file does not exist.</exception>
    public static string? Locate(string? explicitPath)
    {
        var named = explicitPath ?? Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(named))
        {
            var full = Path.GetFullPath(named);
            return File.Exists(full) ? full : throw new FileNotFoundException($"the settings file '{full}' does not exist ({(explicitPath is null ? EnvironmentVariable : "--config")})", full);
        }

        foreach (var directory in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            var candidate = Path.Combine(directory, FileName);
            if (File.Exists(candidate))
            {
                return Path.GetFullPath(candidate);
            }
        }

        return null;
    }

    /// <summary>
    /// Replaces the default <c>appsettings*.json</c> sources (relative to the content root) by <paramref name="file"/>
    /// and its <c>.{environment}.json</c> sibling, at the same precedence: environment variables and the command line
    /// still override it.
    /// </summary>
    public static void Apply(ConfigurationManager configuration, string? file, string environment)
    {
        var sources = configuration.Sources;
        var index = -1;
        for (var i = sources.Count - 1; i >= 0; i--)
        {
            if (sources[i] is JsonConfigurationSource { Path: { } path } && path.StartsWith("appsettings", StringComparison.OrdinalIgnoreCase))
            {
                sources.RemoveAt(i);
                index = i;
            }
        }

        if (file is null)
        {
            return;
        }

        var directory = Path.GetDirectoryName(file)!;
        var provider = new PhysicalFileProvider(directory);
        var name = Path.GetFileName(file);
        var environmentName = Path.GetFileNameWithoutExtension(name) + "." + environment + ".json";
        IConfigurationSource[] located =
        [
            new JsonConfigurationSource { FileProvider = provider, Path = name, Optional = false, ReloadOnChange = false },
            new JsonConfigurationSource { FileProvider = provider, Path = environmentName, Optional = true, ReloadOnChange = false },
        ];
        if (index < 0)
        {
            index = 0;
        }

        for (var i = 0; i < located.Length; i++)
        {
            sources.Insert(index + i, located[i]);
        }
    }
}
