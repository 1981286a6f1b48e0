namespace EmStreaming.Runtime.Streams;

/// <summary>Identity of a stream: a namespace plus a key, both validated by <see cref="GrainKey"/>.</summary>
/// <remarks>An implicit subscription maps a namespace to a grain type; the stream key is the grain key.</remarks>
public readonly record struct StreamId
{
    /// <summary>Creates a stream identity.</summary>
    /// <exception cref="InvalidGrainKeyException"><paramref name="streamNamespace"/> or <paramref name="key"/> is not a valid key.</exception>
    public StreamId(string streamNamespace, string key)
    {
        GrainKey.Validate(streamNamespace, nameof(streamNamespace));
        GrainKey.Validate(key, nameof(key));
        Namespace = streamNamespace;
        Key = key;
    }

    /// <summary>The stream namespace.</summary>
    public string Namespace { get; }

    /// <summary>The stream key.</summary>
    public string Key { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Namespace}/{Key}";
}

/// <summary>One durable entry of a stream log: an opaque payload at a monotonic position of its partition.</summary>
/// <param name="Stream">The stream the entry belongs to.</param>
/// <param name="Partition">The partition holding the stream.</param>
/// <param name="Position">Position in the partition; strictly increasing in append order, starting at 1.</param>
/// <param name="Timestamp">When the append was accepted (the log's <see cref="TimeProvider"/>).</param>
/// <param name="Payload">The opaque payload as appended.</param>
public readonly record struct StreamItem(StreamId Stream, int Partition, long Position, DateTimeOffset Timestamp, ReadOnlyMemory<byte> Payload);

/// <summary>Where an appended batch landed: the durable acknowledgement of <see cref="IStreamProducer.AppendAsync"/>.</summary>
/// <param name="Partition">The partition of the stream.</param>
/// <param name="Position">The position assigned in that partition.</param>
public readonly record struct StreamPosition(int Partition, long Position);
