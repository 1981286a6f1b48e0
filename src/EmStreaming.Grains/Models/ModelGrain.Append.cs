namespace EmStreaming.Grains.Models;

/// <summary>
/// What the service needs of a model to append to it: whether it exists, the generation to stamp on the records, the width
/// rows must have, and why it cannot apply records (null when it can). Answered by the model's grain from the definition it
/// holds, so an append reads no registry.
/// </summary>
[GenerateSerializer, Immutable]
internal sealed record AppendTarget(
    [property: Id(0)] bool Exists, [property: Id(1)] long Generation, [property: Id(2)] int Dimension, [property: Id(3)] string? Failure)
{
    public static readonly AppendTarget Missing = new(false, 0, 0, null);
}

/// <summary>
/// The append path's view of the grain's definition. The grain's <c>_entry</c> is what it applies records with: loaded at
/// activation and by <see cref="ReloadAsync"/>, which every registry change through the service is followed by.
/// <see cref="SyncAsync"/> repairs a grain that missed such a reload (the process died between the registry write and it).
/// </summary>
internal sealed partial class ModelGrain
{
    public Task<AppendTarget> GetAppendTargetAsync()
    {
        if (_entry is not { } entry)
        {
            // An activation for an id without a definition holds nothing worth keeping (it writes no state): gone once idle,
            // so a burst of appends to unknown ids leaves no activations behind, and the next one reads the registry afresh.
            DeactivateOnIdle();
            return Task.FromResult(AppendTarget.Missing);
        }

        return Task.FromResult(new AppendTarget(true, entry.Generation, entry.Definition.Dimension, _failure));
    }

    // Interleaved: reads the windows between turns' steps, like GetProgressAsync.
    public Task<RetryVerdict> JudgeRetryAsync(string producerId, long sequence) => Task.FromResult(_windows.Judge(producerId, sequence));

    public Task ExpectAsync(string producerId, long sequence, int rows)
    {
        // Only if not applied yet (the record may have been read before this call): an applied record must not be counted again.
        if (_entry is not null && _windows.WouldAccept(producerId, sequence))
        {
            _outstanding.Add(producerId, sequence, rows);
        }

        return Task.CompletedTask;
    }

    public async Task<AppendTarget> SyncAsync()
    {
        var entry = await _registry.GetAsync(Id, CancellationToken.None);
        // Only a difference reloads: ReloadAsync resets the core to a new generation and writes a snapshot, which an identical
        // definition must not cause (a retried PUT, an append to a model the grain already knows); and for an id that neither
        // the registry nor the grain knows, nothing is written (no state, no history).
        var current = entry is null
            ? _entry is null
            : _entry is { } held && held.Generation == entry.Generation && held.Definition == entry.Definition;
        if (!current)
        {
            await ReloadAsync();
        }

        return await GetAppendTargetAsync();
    }
}
