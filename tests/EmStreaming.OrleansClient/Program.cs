using System.Text.Json;
using EmStreaming.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// Usage: EmStreaming.OrleansClient <gateway-port> <model-id> [cluster-id] [service-id]
// Connects to the silo's gateway on 127.0.0.1, calls IModelGrain.GetStateAsync and prints the view as JSON on one line.
if (args.Length < 2 || !int.TryParse(args[0], out var gatewayPort))
{
    await Console.Error.WriteLineAsync("usage: EmStreaming.OrleansClient <gateway-port> <model-id> [cluster-id] [service-id]");
    return 2;
}

var modelId = args[1];
var clusterId = args.Length > 2 ? args[2] : "emstreaming";
var serviceId = args.Length > 3 ? args[3] : "emstreaming";

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.UseOrleansClient(client => client.UseLocalhostClustering(gatewayPort, serviceId, clusterId));
using var host = builder.Build();
await host.StartAsync();
try
{
    var grains = host.Services.GetRequiredService<IClusterClient>();
    var state = await grains.GetGrain<IModelGrain>(modelId).GetStateAsync();
    Console.WriteLine(JsonSerializer.Serialize(state, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
    return 0;
}
catch (KeyNotFoundException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    return 1;
}
finally
{
    await host.StopAsync();
}
