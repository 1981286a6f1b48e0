using System.Text.Json;

namespace EmStreaming.Cli.Output;

/// <summary>Small helpers for the JSON contract: one object per line, numbers round-trippable, never NaN.</summary>
internal static class Json
{
    public static string Write(Action<Utf8JsonWriter> body, bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            body(writer);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static void Number(this Utf8JsonWriter writer, string name, double value)
    {
        if (double.IsFinite(value))
        {
            writer.WriteNumber(name, value);
        }
        else
        {
            // JSON has no NaN or infinity; null says "not defined" (for example BIC of a model that was not fitted).
            writer.WriteNull(name);
        }
    }

    public static void Vector(this Utf8JsonWriter writer, string name, ReadOnlySpan<double> values)
    {
        writer.WriteStartArray(name);
        WriteValues(writer, values);
        writer.WriteEndArray();
    }

    /// <summary>Writes a row-major rows×cols block as an array of arrays.</summary>
    public static void Matrix(this Utf8JsonWriter writer, string name, ReadOnlySpan<double> values, int rows, int columns)
    {
        writer.WriteStartArray(name);
        WriteMatrix(writer, values, rows, columns);
        writer.WriteEndArray();
    }

    public static void WriteMatrix(Utf8JsonWriter writer, ReadOnlySpan<double> values, int rows, int columns)
    {
        for (var r = 0; r < rows; r++)
        {
            writer.WriteStartArray();
            WriteValues(writer, values.Slice(r * columns, columns));
            writer.WriteEndArray();
        }
    }

    /// <summary>
    /// Writes K full d×d covariance matrices, whatever the covariance type, so scripts read one shape.
    /// </summary>
    public static void Covariances(this Utf8JsonWriter writer, int components, int dimension, Func<int, double[]> fullCovariance)
    {
        writer.WriteStartArray("covariances");
        for (var c = 0; c < components; c++)
        {
            writer.WriteStartArray();
            WriteMatrix(writer, fullCovariance(c), dimension, dimension);
            writer.WriteEndArray();
        }

        writer.WriteEndArray();
    }

    private static void WriteValues(Utf8JsonWriter writer, ReadOnlySpan<double> values)
    {
        foreach (var v in values)
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
    }
}
