using EmStreaming.Server.Hosting;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace EmStreaming.Server.Telemetry;

/// <summary>
/// Exports the EmStreaming meters over OTLP when <c>OpenTelemetry:OtlpEndpoint</c> is set. The meter provider is
/// built with <see cref="Sdk.CreateMeterProviderBuilder"/> (OpenTelemetry.Extensions.Hosting is not in our package
/// source) and disposed, which flushes it, when the host stops.
/// </summary>
internal sealed class OtlpExport(MeterProvider provider) : IDisposable
{
    public static OtlpExport? Create(TelemetryOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.OtlpEndpoint))
        {
            return null;
        }

        var provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(ServerMetrics.MeterName, "EmStreaming.*")
            .AddOtlpExporter((exporter, reader) =>
            {
                exporter.Endpoint = new Uri(options.OtlpEndpoint);
                exporter.Protocol = options.Protocol == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)options.ExportInterval.TotalMilliseconds;
            })
            .Build();
        return new OtlpExport(provider);
    }

    public void Dispose() => provider.Dispose();
}
