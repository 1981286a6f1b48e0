using System.Text.Json;
using EmStreaming.Client.Transport;

namespace EmStreaming.Client;

/// <summary>The serializer settings of the API's wire format (camelCase, nulls left out, NaN as null), for printing or storing the client's records.</summary>
public static class EmStreamingJson
{
    /// <summary>Read-only settings; JSON null reads as NaN where a double is expected and NaN writes as null.</summary>
    public static JsonSerializerOptions Options => ClientJson.Options;
}
