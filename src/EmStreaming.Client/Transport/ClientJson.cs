using System.Text.Json;
using System.Text.Json.Serialization;

namespace EmStreaming.Client.Transport;

/// <summary>Serializer settings of the client: the API's camelCase, nulls left out, and JSON null read as NaN where a double is expected.</summary>
internal static class ClientJson
{
    public static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            Converters = { new NullAsNaNConverter() },
        };
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    /// <summary>The server writes non-finite numbers (a log-density of −∞, a missing value) as null: here they are NaN, and NaN goes out as null.</summary>
    private sealed class NullAsNaNConverter : JsonConverter<double>
    {
        public override bool HandleNull => true;

        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value))
            {
                writer.WriteNumberValue(value);
            }
            else
            {
                writer.WriteNullValue();
            }
        }
    }

    /// <summary>A <c>{"rows":[[…],…]}</c> body; NaN goes out as null (missing).</summary>
    public static byte[] Rows(IReadOnlyList<double[]> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return Write(writer =>
        {
            foreach (var row in rows)
            {
                ArgumentNullException.ThrowIfNull(row, nameof(rows));
                WriteRow(writer, row);
            }
        });
    }

    /// <summary>A <c>{"rows":[[…],…]}</c> body from a row-major block of <paramref name="columns"/> values per row.</summary>
    public static byte[] Rows(ReadOnlyMemory<double> values, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        if (values.Length % columns != 0)
        {
            throw new ArgumentException($"{values.Length} values are not a whole number of rows of {columns}", nameof(values));
        }

        return Write(writer =>
        {
            for (var offset = 0; offset < values.Length; offset += columns)
            {
                WriteRow(writer, values.Span.Slice(offset, columns));
            }
        });
    }

    private static byte[] Write(Action<Utf8JsonWriter> rows)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("rows");
            rows(writer);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WriteRow(Utf8JsonWriter writer, ReadOnlySpan<double> row)
    {
        writer.WriteStartArray();
        foreach (var v in row)
        {
            if (double.IsFinite(v))
            {
                writer.WriteNumberValue(v);
            }
            else
            {
                writer.WriteNullValue();
            }
        }

        writer.WriteEndArray();
    }
}
