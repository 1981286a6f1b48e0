namespace EmStreaming.Contracts;

/// <summary>Names of the Orleans streams the model grains consume.</summary>
public static class ModelStreams
{
    /// <summary>Stream namespace of model streams; the stream key is the model id (<c>StreamId.Create(Namespace, modelId)</c>).</summary>
    public const string Namespace = "models";

    /// <summary>Default name of the persistent stream provider (setting <c>Streams:ProviderName</c>).</summary>
    public const string DefaultProviderName = "models";
}
