using System.Reflection;

namespace EmStreaming.Server.Tests.Support;

/// <summary>Where the repository, the built <c>emstream</c> program and the test artifacts are.</summary>
internal static class TestPaths
{
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "EmStreaming.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException($"EmStreaming.sln not found above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>The emstream.dll built in the same configuration as these tests (the test project builds it first).</summary>
    public static string Emstream
    {
        get
        {
            var configuration = typeof(TestPaths).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
            var path = Path.Combine(RepositoryRoot, "src", "EmStreaming.Cli", "bin", configuration, "net10.0", "emstream.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"build the CLI first: {path} is missing", path);
        }
    }

    /// <summary>The Orleans client program (tests/EmStreaming.OrleansClient) built in the same configuration as these tests.</summary>
    public static string OrleansClient
    {
        get
        {
            var configuration = typeof(TestPaths).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
            var path = Path.Combine(RepositoryRoot, "tests", "EmStreaming.OrleansClient", "bin", configuration, "net10.0", "EmStreaming.OrleansClient.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"build the Orleans client first: {path} is missing", path);
        }
    }

    /// <summary>artifacts/test-results/server (what tests/run.sh collects), created on demand.</summary>
    public static string Artifacts
    {
        get
        {
            var path = Path.Combine(RepositoryRoot, "artifacts", "test-results", "server");
            Directory.CreateDirectory(path);
            return path;
        }
    }

    public static int FreePort() => EmStreaming.Testing.LoopbackPorts.Free();

    /// <summary>
    /// Free silo and gateway ports for one embedded silo (settings <c>Orleans:SiloPort</c>, <c>Orleans:GatewayPort</c>), so
    /// test servers running side by side, and other silos on this machine, never collide.
    /// </summary>
    public static Dictionary<string, string?> OrleansPorts()
    {
        var silo = FreePort();
        var gateway = FreePort();
        while (gateway == silo)
        {
            gateway = FreePort();
        }

        return new()
        {
            ["Orleans:SiloPort"] = silo.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orleans:GatewayPort"] = gateway.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
    }

    /// <summary><see cref="OrleansPorts"/> as command-line arguments.</summary>
    public static string[] OrleansPortArgs() => [.. OrleansPorts().Select(p => $"--{p.Key}={p.Value}")];

    public static string TempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "emstream-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
