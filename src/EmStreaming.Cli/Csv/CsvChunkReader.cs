using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.ExceptionServices;

namespace EmStreaming.Cli.Csv;

/// <summary>Consecutive data rows of a file: <see cref="Rows"/> rows of the selected columns, row-major, NaN for missing.</summary>
internal sealed class CsvChunk(int capacity, int columns)
{
    /// <summary>Row-major values; only the first <see cref="Rows"/> × <see cref="Columns"/> are this chunk's.</summary>
    public double[] Values { get; } = new double[capacity * columns];

    public int Capacity { get; } = capacity;

    public int Columns { get; } = columns;

    /// <summary>Rows filled.</summary>
    public int Rows { get; set; }

    /// <summary>The filled values (<see cref="Rows"/> × <see cref="Columns"/>).</summary>
    public ReadOnlySpan<double> Filled => Values.AsSpan(0, Rows * Columns);
}

/// <summary>
/// Reads a file's data rows on a thread of its own (<see cref="CsvLoader.ReadRows"/>) into a fixed pool of chunks, handed
/// to the caller in file order: parsing the next rows overlaps whatever the caller does with the last ones, and memory is
/// the pool's, whatever the file's size. An error in the file (it names the row, line and column) is thrown by
/// <see cref="TryTake"/> after the chunks before it, so the caller has seen exactly the rows before the bad one.
/// </summary>
/// <remarks>
/// Both sides are synchronous loops (a parser and a numeric learner), so the hand-off is a pair of bounded blocking
/// collections, full chunks one way and emptied chunks back, rather than an async channel that each side would have to
/// block on. <see cref="Dispose"/> stops the reader and waits for it.
/// </remarks>
internal sealed class CsvChunkReader : EmStreaming.Cli.Commands.IChunkSource, IDisposable
{
    private readonly BlockingCollection<CsvChunk> _full;
    private readonly BlockingCollection<CsvChunk> _free;
    private readonly CancellationTokenSource _stop;
    private readonly Thread _thread;
    private readonly CsvSchema _schema;
    private Exception? _error;

    /// <param name="schema">What to read (<see cref="CsvLoader.Plan"/>).</param>
    /// <param name="chunkRows">Rows per chunk (≥ 1).</param>
    /// <param name="depth">Chunks in the pool (≥ 2): how far the reader may run ahead.</param>
    /// <param name="cancellationToken">Stops the reader; <see cref="TryTake"/> then throws <see cref="OperationCanceledException"/>.</param>
    public CsvChunkReader(CsvSchema schema, int chunkRows, int depth, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 2);
        _schema = schema;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _full = new BlockingCollection<CsvChunk>(new ConcurrentQueue<CsvChunk>(), depth);
        _free = new BlockingCollection<CsvChunk>(new ConcurrentQueue<CsvChunk>(), depth);
        for (var i = 0; i < depth; i++)
        {
            _free.Add(new CsvChunk(chunkRows, schema.Columns.Length));
        }

        _thread = new Thread(Read) { IsBackground = true, Name = "emstream CSV reader" };
        _thread.Start();
    }

    /// <summary>Data rows handed out so far.</summary>
    public long RowsTaken { get; private set; }

    /// <summary>
    /// Waits for the next chunk in file order; false after the last one. Give each chunk back with <see cref="Return"/>
    /// once its values are no longer needed (the reader waits for a free chunk).
    /// </summary>
    /// <exception cref="CliException">The file has a malformed row or value (after every chunk before it was taken).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public bool TryTake([NotNullWhen(true)] out CsvChunk? chunk)
    {
        try
        {
            chunk = _full.Take(_stop.Token);
            RowsTaken += chunk.Rows;
            return true;
        }
        catch (InvalidOperationException) when (_full.IsCompleted)
        {
            // The reader finished: normally, or with the error that ended the file.
            if (_error is not null)
            {
                ExceptionDispatchInfo.Throw(_error);
            }

            // A reader stopped by the token ends early: that is a cancellation, not the end of the file.
            _stop.Token.ThrowIfCancellationRequested();
            chunk = null;
            return false;
        }
    }

    /// <summary>Gives a chunk taken with <see cref="TryTake"/> back to the reader.</summary>
    public void Return(CsvChunk chunk)
    {
        chunk.Rows = 0;
        _free.Add(chunk);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
        _full.Dispose();
        _free.Dispose();
    }

    private void Read()
    {
        var token = _stop.Token;
        CsvChunk? current = null;
        try
        {
            var columns = _schema.Columns.Length;
            CsvLoader.ReadRows(
                _schema,
                _ =>
                {
                    if (current is not null && current.Rows == current.Capacity)
                    {
                        _full.Add(current, token);
                        current = null;
                    }

                    current ??= _free.Take(token);
                    return current.Values.AsSpan(current.Rows++ * columns, columns);
                },
                progress: null,
                token);
            if (current is { Rows: > 0 })
            {
                _full.Add(current, token);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopped by Dispose or the caller's token; TryTake reports the cancellation.
        }
        catch (Exception e)
        {
            // The rows before the bad one in the chunk being filled are handed out too (a chunk holds only complete rows),
            // so the caller sees every good row before the error, whatever the chunk size.
            _error = e;
            if (current is { Rows: > 0 })
            {
                try
                {
                    _full.Add(current, token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
        finally
        {
            _full.CompleteAdding();
        }
    }
}
