using System.Runtime.InteropServices;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Grains.Models;

internal sealed partial class ModelCore
{
    // 3: the HMM drift detector tests the rows' surprise (loss minus its expectation), not the raw loss; a version-2 detector
    // learned the raw loss's level, so it is dropped on reading and a fresh one learns the surprise.
    // 4: the first observation the refit in flight fits (an HMM drift refit fits the rows after the alarm only); earlier
    // versions fitted the whole window.
    private const byte StateVersion = 4;

    /// <summary>
    /// Everything the model's future depends on: counters, refit sequence numbers, the idempotency-key memory, the window
    /// (as raw doubles, oldest first) and the estimator's own bit-exact state. <see cref="Restore"/> continues identically.
    /// </summary>
    public byte[] Save()
    {
        var window = CopyWindow();
        var estimator = _gmm is not null ? _gmm.SaveState() : _hmm!.SaveState();
        var drift = _hmmDrift?.Save() ?? [];

        // Sized up front: the window alone is most of the state (160 KB for 5,000 rows of 4), and a growing stream copies
        // it at every doubling.
        using var stream = new MemoryStream(1024 + (KeyMemory * sizeof(ulong)) + (window.Values.Length * sizeof(double)) + estimator.Length + drift.Length
            + (3 * (LastRefitRejection?.Length ?? 0)));
        using var w = new BinaryWriter(stream);
        w.Write(StateVersion);
        w.Write(Generation);
        w.Write(Observations);
        w.Write(Anomalies);
        w.Write(Refits);
        w.Write(RefitRequested);
        w.Write(RefitApplied);
        w.Write(SinceRefit);
        w.Write(LastObservationAt?.UtcTicks ?? -1);
        w.Write(LastRefitAt?.UtcTicks ?? -1);
        w.Write(RecentMeanLogLikelihood ?? double.NaN);
        w.Write(Regime ?? -1);
        w.Write(_keyCount);
        w.Write(_keyNext);
        foreach (var key in _keys)
        {
            w.Write(key);
        }

        w.Write(window.Rows);
        WriteDoubles(w, window.Values);

        w.Write(estimator.Length);
        w.Write(estimator);

        // Version 2: refit hold-out boundary, drift and health figures.
        w.Write(_refitFitEnd);
        w.Write(_driftRefitWanted);
        w.Write(drift.Length);
        w.Write(drift);
        w.Write(RefitGap ?? double.NaN);
        w.Write(RefitGapObservation ?? -1);
        w.Write(LastRefitRejection ?? string.Empty);
        w.Write(Drifts);
        w.Write(LastDriftAt?.UtcTicks ?? -1);
        w.Write(LastDriftObservation ?? -1);

        // Version 4.
        w.Write(_refitFitStart);
        w.Flush();
        return stream.ToArray();
    }

    /// <summary>Rebuilds a core saved by <see cref="Save"/> for the same definition.</summary>
    public static ModelCore Restore(ModelDefinition definition, ReadOnlySpan<byte> data)
    {
        using var stream = new MemoryStream(data.ToArray(), writable: false);
        using var r = new BinaryReader(stream);
        var version = r.ReadByte();
        if (version is < 1 or > StateVersion)
        {
            throw new InvalidDataException("model state: unsupported version");
        }

        var core = new ModelCore(definition, r.ReadInt64())
        {
            Observations = r.ReadInt64(),
            Anomalies = r.ReadInt64(),
            Refits = r.ReadInt64(),
            RefitRequested = r.ReadInt64(),
            RefitApplied = r.ReadInt64(),
            SinceRefit = r.ReadInt64(),
        };
        core.LastObservationAt = Ticks(r.ReadInt64());
        core.LastRefitAt = Ticks(r.ReadInt64());
        var mll = r.ReadDouble();
        core.RecentMeanLogLikelihood = double.IsNaN(mll) ? null : mll;
        var regime = r.ReadInt32();
        core.Regime = regime < 0 ? null : regime;
        core._keyCount = r.ReadInt32();
        core._keyNext = r.ReadInt32();
        for (var i = 0; i < KeyMemory; i++)
        {
            core._keys[i] = r.ReadUInt64();
        }

        var rows = r.ReadInt32();
        var d = definition.Dimension;
        if (rows > 0)
        {
            var values = ReadDoubles(r, checked(rows * d));

            core._window.Add(values, rows, core.Observations);
        }

        var estimator = r.ReadBytes(r.ReadInt32());
        if (definition.Kind == ModelKind.Gmm)
        {
            core._gmm = OnlineGaussianMixture.Restore(estimator);
        }
        else
        {
            // The regime confidence is the definition's policy, not the estimator's state: a replace that changes only it keeps the state.
            core._hmm = OnlineGaussianHmm.RestoreState(estimator);
            core._hmm.RegimeConfidence = RegimeConfidence(definition);
        }

        if (version >= 2)
        {
            core._refitFitEnd = r.ReadInt64();
            core._driftRefitWanted = r.ReadBoolean();
            var drift = r.ReadBytes(r.ReadInt32());
            core._hmmDrift = drift.Length > 0 && version >= 3 ? PageHinkley.Restore(drift) : null;
            var gap = r.ReadDouble();
            core.RefitGap = double.IsNaN(gap) ? null : gap;
            var gapAt = r.ReadInt64();
            core.RefitGapObservation = gapAt < 0 ? null : gapAt;
            var rejection = r.ReadString();
            core.LastRefitRejection = rejection.Length == 0 ? null : rejection;
            core.Drifts = r.ReadInt64();
            core.LastDriftAt = Ticks(r.ReadInt64());
            var driftAt = r.ReadInt64();
            core.LastDriftObservation = driftAt < 0 ? null : driftAt;
            if (version >= 4)
            {
                core._refitFitStart = r.ReadInt64();
            }
        }
        else
        {
            // A version-1 refit in flight fitted the whole window: nothing of it is held out.
            core._refitFitEnd = core.Observations;
        }

        core.RefreshWarnings(force: true);
        return core;
    }

    private static DateTimeOffset? Ticks(long ticks) => ticks < 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);

    /// <summary>Doubles as BinaryWriter writes them one by one (little-endian, <see cref="ModelStreamRecord.Pack"/>), in one block.</summary>
    private static void WriteDoubles(BinaryWriter w, ReadOnlySpan<double> values) =>
        w.Write(BitConverter.IsLittleEndian ? MemoryMarshal.AsBytes(values) : ModelStreamRecord.Pack(values));

    /// <summary>What <see cref="WriteDoubles"/> wrote; a stream too short for <paramref name="count"/> values is truncated state.</summary>
    private static double[] ReadDoubles(BinaryReader r, int count)
    {
        if (count < 0 || (long)count * sizeof(double) > r.BaseStream.Length - r.BaseStream.Position)
        {
            throw new EndOfStreamException("model state: the window is truncated");
        }

        if (!BitConverter.IsLittleEndian)
        {
            return ModelStreamRecord.Unpack(r.ReadBytes(count * sizeof(double)));
        }

        var values = new double[count];
        r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }
}
