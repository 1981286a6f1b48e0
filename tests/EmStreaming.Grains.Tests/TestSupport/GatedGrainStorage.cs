using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace EmStreaming.Grains.Tests.TestSupport;

/// <summary>
/// The silo's real grain storage with a gate in front of its writes: counts them, and while the gate is closed holds each one
/// (before it reaches the storage) until the gate opens. Reads and clears pass through.
/// </summary>
internal sealed class GatedGrainStorage(IGrainStorage inner, GatedGrainStorage.Gate gate) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await gate.PassAsync();
        await inner.WriteStateAsync(stateName, grainId, grainState);
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);

    /// <summary>Replaces the grain storage named <paramref name="name"/> by itself behind <paramref name="gate"/>.</summary>
    public static void Decorate(IServiceCollection services, string name, Gate gate)
    {
        var original = services.Last(d => d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, name));
        var factory = original.KeyedImplementationFactory ?? throw new InvalidOperationException($"grain storage '{name}' is not registered by a factory");
        services.AddKeyedSingleton<IGrainStorage>(name, (sp, key) => new GatedGrainStorage((IGrainStorage)factory(sp, key), gate));
    }

    /// <summary>Open by default. Counts the writes that passed or wait; signals the first write held while closed.</summary>
    internal sealed class Gate
    {
        private readonly Lock _lock = new();
        private TaskCompletionSource _open = Opened();
        private TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _writes;

        public int Writes => Volatile.Read(ref _writes);

        /// <summary>Completes once a write is waiting at the closed gate.</summary>
        public Task Held => _held.Task;

        public void Close()
        {
            lock (_lock)
            {
                if (_open.Task.IsCompleted)
                {
                    _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
        }

        public void Open()
        {
            lock (_lock)
            {
                _open.TrySetResult();
            }
        }

        public void ResetCount() => Volatile.Write(ref _writes, 0);

        internal Task PassAsync()
        {
            Interlocked.Increment(ref _writes);
            lock (_lock)
            {
                if (!_open.Task.IsCompleted)
                {
                    _held.TrySetResult();
                }

                return _open.Task;
            }
        }

        private static TaskCompletionSource Opened()
        {
            var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            open.SetResult();
            return open;
        }
    }
}
