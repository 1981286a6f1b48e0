using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EmStreaming.Grains;

/// <summary>
/// A cluster of several silos shares its state only through the account: a silo's SQLite file (grain state, log streams,
/// registry) is seen by that silo alone, so a grain moved to another silo would start from nothing. Any clustering other
/// than Localhost therefore needs <c>Storage:Provider=AzureStorage</c> and <c>Streams:Provider=AzureQueue</c>.
/// </summary>
internal static class ClusterStorageRule
{
    /// <exception cref="OptionsValidationException">Shared membership over silo-local storage or streams; the message names the settings.</exception>
    public static void Check(IConfiguration configuration, ModelStorageOptions storage, ModelStreamOptions streams)
    {
        var clustering = configuration[$"{SiloHostOptions.SectionName}:Clustering"];
        if (string.IsNullOrWhiteSpace(clustering) || string.Equals(clustering, "Localhost", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        List<string> failures = [];
        if (!storage.AzureStorage)
        {
            failures.Add($"Orleans:Clustering={clustering} needs Storage:Provider=AzureStorage (was '{storage.Provider}'): every silo must read the state another silo wrote");
        }

        if (!streams.AzureQueue)
        {
            failures.Add($"Orleans:Clustering={clustering} needs Streams:Provider=AzureQueue (was '{streams.Provider}'): a silo-local log is not read by the other silos' pulling agents");
        }

        if (failures.Count > 0)
        {
            throw new OptionsValidationException(SiloHostOptions.SectionName, typeof(SiloHostOptions), failures);
        }
    }
}
