namespace EmStreaming.Runtime;

/// <summary>Identity of a grain: its type name plus a string key, both validated by <see cref="GrainKey"/>.</summary>
public readonly record struct GrainId
{
    /// <summary>Creates a grain identity.</summary>
    /// <exception cref="InvalidGrainKeyException"><paramref name="type"/> or <paramref name="key"/> is not a valid key.</exception>
    public GrainId(string type, string key)
    {
        GrainKey.Validate(type, nameof(type));
        GrainKey.Validate(key, nameof(key));
        Type = type;
        Key = key;
    }

    /// <summary>The grain type name, as registered with the silo.</summary>
    public string Type { get; }

    /// <summary>The grain key.</summary>
    public string Key { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Type}/{Key}";
}
