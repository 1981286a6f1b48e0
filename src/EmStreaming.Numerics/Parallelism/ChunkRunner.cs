using System.Runtime.ExceptionServices;

namespace EmStreaming.Numerics.Parallelism;

/// <summary>One unit of chunked work; <c>worker</c> indexes per-worker scratch (0 is the calling thread).</summary>
internal interface IChunkWork
{
    void Execute(int chunk, int worker);
}

/// <summary>
/// A tiny fixed pool that runs numbered chunks on the calling thread plus (P−1) dedicated threads.
/// Unlike Parallel.For it allocates nothing per run, which keeps an EM iteration allocation-free.
/// Which worker runs which chunk is not deterministic, so callers write each chunk's result to its own slot and
/// combine the slots in chunk order.
/// </summary>
internal sealed class ChunkRunner : IDisposable
{
    private readonly int _workerCount;
    private Thread[]? _threads;
    private ManualResetEventSlim[]? _start;
    private readonly CountdownEvent _done = new(1);
    private IChunkWork? _work;
    private int _next;
    private int _chunkCount;
    private Exception? _failure;
    private volatile bool _disposed;

    /// <param name="maxDegreeOfParallelism">-1 for all processors, otherwise at least 1.</param>
    public ChunkRunner(int maxDegreeOfParallelism)
    {
        _workerCount = maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : Math.Max(1, maxDegreeOfParallelism);
    }

    /// <summary>Number of workers including the calling thread: size per-worker scratch by this.</summary>
    public int WorkerCount => _workerCount;

    public void Run(int chunkCount, IChunkWork work)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (chunkCount <= 1 || _workerCount == 1)
        {
            for (var c = 0; c < chunkCount; c++)
            {
                work.Execute(c, 0);
            }

            return;
        }

        EnsureThreads();
        _work = work;
        _chunkCount = chunkCount;
        _failure = null;
        Volatile.Write(ref _next, -1);
        _done.Reset(_workerCount - 1);
        foreach (var start in _start!)
        {
            start.Set();
        }

        Drain(0);
        _done.Wait();
        _work = null;
        if (_failure is { } failure)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_threads is null)
        {
            _done.Dispose();
            return;
        }

        foreach (var start in _start!)
        {
            start.Set();
        }

        foreach (var thread in _threads)
        {
            thread.Join();
        }

        foreach (var start in _start)
        {
            start.Dispose();
        }

        _done.Dispose();
    }

    private void Drain(int worker)
    {
        var work = _work!;
        int c;
        while ((c = Interlocked.Increment(ref _next)) < _chunkCount)
        {
            try
            {
                work.Execute(c, worker);
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref _failure, ex, null);
                Volatile.Write(ref _next, _chunkCount);
            }
        }
    }

    private void EnsureThreads()
    {
        if (_threads is not null)
        {
            return;
        }

        var helpers = _workerCount - 1;
        _start = new ManualResetEventSlim[helpers];
        _threads = new Thread[helpers];
        for (var h = 0; h < helpers; h++)
        {
            _start[h] = new ManualResetEventSlim(false, spinCount: 200);
            var worker = h + 1;
            var start = _start[h];
            _threads[h] = new Thread(() => WorkerLoop(start, worker)) { IsBackground = true, Name = $"em-worker-{worker}" };
            _threads[h].Start();
        }
    }

    private void WorkerLoop(ManualResetEventSlim start, int worker)
    {
        while (true)
        {
            start.Wait();
            start.Reset();
            if (_disposed)
            {
                return;
            }

            Drain(worker);
            _done.Signal();
        }
    }
}
