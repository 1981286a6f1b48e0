namespace EmStreaming.Grains.Models;

/// <summary>
/// Rows a model's log held when its activation started that its stored state does not cover (accepted by a previous
/// process and replayed after a restart, or refused while the model was failed): counted per record, removed when the record
/// is applied. Touched only inside the grain (turns and interleaved calls run one at a time on its scheduler).
/// </summary>
internal sealed class OutstandingRows
{
    private readonly Dictionary<(string Producer, long Sequence), int> _records = [];
    private readonly Dictionary<string, long> _byProducer = new(StringComparer.Ordinal);
    private long _total;

    /// <summary>A record of <paramref name="rows"/> rows (0 rows: nothing to count) not yet applied.</summary>
    public void Add(string producerId, long sequence, int rows)
    {
        if (rows > 0 && _records.TryAdd((producerId, sequence), rows))
        {
            _byProducer[producerId] = _byProducer.GetValueOrDefault(producerId) + rows;
            _total += rows;
        }
    }

    /// <summary>The record was applied (accepted by the producer windows): its rows are no longer outstanding.</summary>
    public void Applied(string producerId, long sequence)
    {
        if (_records.Count == 0 || !_records.Remove((producerId, sequence), out var rows))
        {
            return;
        }

        var left = _byProducer[producerId] - rows;
        if (left == 0)
        {
            _byProducer.Remove(producerId);
        }
        else
        {
            _byProducer[producerId] = left;
        }

        _total -= rows;
    }

    /// <summary>
    /// Outstanding rows of every producer but <paramref name="producerId"/> (the asking service counts its own rows itself:
    /// appended minus applied, which also covers its records appended before this activation read the log).
    /// </summary>
    public long Excluding(string producerId) => _total - _byProducer.GetValueOrDefault(producerId);

    public void Clear()
    {
        _records.Clear();
        _byProducer.Clear();
        _total = 0;
    }
}
