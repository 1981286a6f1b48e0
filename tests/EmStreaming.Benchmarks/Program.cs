using BenchmarkDotNet.Running;
using EmStreaming.Benchmarks.Gmm;
using EmStreaming.Benchmarks.Online;

// Modes that are not BenchmarkDotNet suites run in this process and print their own report:
//   gmm-peak [rows] [csv]   peak memory of one whole GMM fit (docs/benchmarks.md)
//   online-defaults         the experiment behind the online GMM's default schedule
//   hmm-defaults            the experiment behind the online HMM's default schedule
//   load [options]          end-to-end load through the Orleans silo (docs/benchmarks.md)
//   newcomer [emstream.dll] time from `emstream serve --demo` to a live dashboard (every demo model warm)
//   seeding [data-dir]      k-means++ starts on raw vs raw/standardized/robust columns (docs/models-stay-right.md)
//   stay-right MODE         issue 11's experiments (stationary, restarts, drift, dax; docs/models-stay-right.md)
//   azurite-ceiling [...]   queue put/get/delete ops/s of Azurite itself, plain Azure SDK (docs/benchmarks.md)
//   azure-cluster [...]     three emstream silos on Azurite, end to end, next to that Azurite's ceiling
//   azurite-op-costs [...]  Azurite's CPU per queue, table and blob operation the cluster makes per message
// Anything else is handed to BenchmarkDotNet (for example --filter '*Gmm*').
switch (args.FirstOrDefault())
{
    case "gmm-peak":
        return GmmPeakMemory.Run(args);
    case "log-streams": // events/s through the log stream provider in a real silo (docs/benchmarks.md)
        return await EmStreaming.Benchmarks.Streams.LogStreamThroughput.RunAsync(args[1..], Console.Out);
    case "online-defaults":
        OnlineGmmDefaultsExperiment.Run(Console.Out);
        return 0;
    case "load":
        return await EmStreaming.Benchmarks.Load.LoadGenerator.RunAsync(args[1..], Console.Out);
    case "newcomer":
        return await EmStreaming.Benchmarks.Newcomer.NewcomerStartup.RunAsync(args[1..], Console.Out);
    case "hmm-defaults":
        EmStreaming.Benchmarks.Hmm.OnlineHmmDefaultsExperiment.Run(Console.Out);
        return 0;
    case "seeding":
        return SeedingSpacesExperiment.Run(args[1..], Console.Out);
    case "stay-right":
        return ModelsStayRightExperiment.Run(args[1..], Console.Out);
    case "azure-cluster":
        return await EmStreaming.Benchmarks.AzureStorage.ClusterThroughput.RunAsync(args[1..], Console.Out);
    case "azurite-ceiling":
        return await EmStreaming.Benchmarks.AzureStorage.AzuriteCeiling.RunAsync(args[1..], Console.Out);
    case "azurite-op-costs":
        return await EmStreaming.Benchmarks.AzureStorage.AzuriteOperationCosts.RunAsync(args[1..], Console.Out);
    default:
        BenchmarkSwitcher.FromAssembly(typeof(EmStreaming.Benchmarks.Ingest.JsonRowsBenchmark).Assembly).Run(args);
        return 0;
}
