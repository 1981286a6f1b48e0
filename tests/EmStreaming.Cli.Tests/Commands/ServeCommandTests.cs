namespace EmStreaming.Cli.Tests.Commands;

/// <summary><c>emstream serve</c> with settings it cannot use: exit 2 naming the setting or file, before anything listens.</summary>
public sealed class ServeCommandTests
{
    private static (int Code, string Error) Serve(params string[] extra)
    {
        var data = Path.Combine(Path.GetTempPath(), $"emstream-test-{Guid.NewGuid():N}");
        try
        {
            // Free ports, should a setting pass and the server get as far as listening.
            var ports = EmStreaming.Testing.LoopbackPorts.Free(3);
            var (code, _, error) = CliRunner.Run(["serve", "--urls", $"http://127.0.0.1:{ports[0]}", "--data-dir", data, $"--Orleans:SiloPort={ports[1]}", $"--Orleans:GatewayPort={ports[2]}", .. extra]);
            return (code, error);
        }
        finally
        {
            if (Directory.Exists(data))
            {
                Directory.Delete(data, recursive: true);
            }
        }
    }

    [Theory]
    // A value that does not convert to the setting's type crashed serve with the binder's stack trace (exit 134).
    [InlineData("--Server:MaxRowsPerBatch=abc", "'Server:MaxRowsPerBatch'")]
    [InlineData("--Orleans:SiloPort=abc", "'Orleans:SiloPort'")]
    [InlineData("--Security:AllowAnonymousNonLoopback=maybe", "'Security:AllowAnonymousNonLoopback'")]
    public void Serve_SettingOfTheWrongType_ExitsTwoNamingIt(string setting, string expected)
    {
        var (code, error) = Serve(setting);
        Assert.Equal(2, code);
        Assert.Contains("invalid configuration", error);
        Assert.Contains(expected, error);
        Assert.DoesNotContain("   at ", error);
    }

    [Theory]
    [InlineData("00:01:00")]
    [InlineData("00:00:30")]
    public void Serve_CollectionAgeNotAboveOrleansQuantum_ExitsTwoNamingIt(string age)
    {
        // 00:01:00 passed the check ("at least 00:01:00") and Orleans then refused to start the silo: "unexpected failure
        // (a bug: please report it)" with its stack trace.
        var (code, error) = Serve($"--Orleans:CollectionAge={age}");
        Assert.Equal(2, code);
        Assert.Contains("Orleans:CollectionAge must be more than 00:01:00", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void Serve_SettingsFileNotJson_ExitsTwoNamingTheFile()
    {
        using var settings = new CliRunner.TempFile(".json", "{ \"Server\": { \"MaxRowsPerBatch\": 5000, } oops");
        var (code, error) = Serve("--config", settings.Path);
        Assert.Equal(2, code);
        Assert.Contains(settings.Path, error);
        Assert.DoesNotContain("   at ", error);
    }
}
