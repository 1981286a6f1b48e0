using System.Diagnostics;
using System.Globalization;

namespace EmStreaming.Benchmarks.AzureStorage;

/// <summary>
/// <c>--pin</c>: gives Azurite the last core to itself and this process, with every process it starts afterwards (the
/// silos), the other cores. On a small machine the storage emulator and its clients otherwise compete for the same cores,
/// so a client that needs more CPU also makes Azurite slower; pinned, Azurite's CPU per message measures the work the
/// client asks of it, as on an account that runs on machines of its own.
/// </summary>
internal static class CpuPinning
{
    /// <summary>Pins every thread of Azurite (<paramref name="azuritePid"/>) and of this process; returns what it did.</summary>
    public static string Pin(int azuritePid)
    {
        var cores = Environment.ProcessorCount;
        if (!OperatingSystem.IsLinux() || cores < 2)
        {
            throw new InvalidOperationException($"--pin needs Linux and at least 2 cores (this machine: {cores} cores)");
        }

        var azuriteCore = cores - 1;
        var clientCores = cores == 2 ? "0" : $"0-{cores - 2}";
        Taskset(azuriteCore.ToString(CultureInfo.InvariantCulture), azuritePid);
        Taskset(clientCores, Environment.ProcessId);
        return $"pinned: Azurite (pid {azuritePid}) on core {azuriteCore}, this client and the processes it starts on core(s) {clientCores}";
    }

    private static void Taskset(string cores, int pid)
    {
        // -a: every thread the process has now; threads and processes it creates later inherit the mask.
        using var taskset = Process.Start(new ProcessStartInfo("taskset", ["-a", "-p", "-c", cores, pid.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("taskset did not start");
        var error = taskset.StandardError.ReadToEnd();
        taskset.StandardOutput.ReadToEnd();
        taskset.WaitForExit();
        if (taskset.ExitCode != 0)
        {
            throw new InvalidOperationException($"taskset -a -p -c {cores} {pid} failed ({taskset.ExitCode}): {error.Trim()}");
        }
    }
}
