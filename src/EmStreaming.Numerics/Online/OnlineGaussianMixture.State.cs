using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Online;

public sealed partial class OnlineGaussianMixture
{
    private const string StateMagic = "EOGM";
    private const ushort StateVersion = 5;
    private const string StateName = "online GMM state";

    /// <summary>
    /// Serializes everything the future of the estimator depends on: settings, counters, schedule position, random
    /// state, warm-up buffer, statistics, parameters with their factors, Polyak–Ruppert average and the recent-row ring,
    /// doubles as raw bits. <see cref="Restore"/> of these bytes continues exactly as this instance would.
    /// </summary>
    /// <returns>A versioned, checksummed byte array (format "EOGM" version 5, whose drift detector learns each row's surprise instead of its loss; version 4 added the detector's first losses after a reset, version 3 the components' centres; versions 1 to 4 still restore, their detector started afresh from version 4 down).</returns>
    public byte[] SaveState()
    {
        var w = new StateWriter(StateMagic, StateVersion, 1024);
        w.WriteInt32(_d);
        w.WriteInt32(_k);
        w.WriteByte((byte)_type);
        _schedule.WriteTo(w);
        w.WriteInt32(_options.WarmUpObservations);
        w.WriteInt32(_options.WarmUpRestarts);
        w.WriteDouble(_options.RegCovar);
        w.WriteDouble(_options.ReseedWeight);
        w.WriteInt32(_options.RecentCapacity);
        w.WriteUInt64(_options.Seed);
        w.WriteDouble(_options.RelativeRegCovar);
        w.WriteBoolean(_options.DetectDrift);

        _rng.WriteTo(w);
        w.WriteInt64(_observations);
        w.WriteInt64(_batches);
        w.WriteInt64(_reseeds);
        w.WriteDouble(_lastMeanLogLikelihood);

        w.WriteBoolean(IsWarmingUp);
        if (_warmUp is not null)
        {
            w.WriteDoubles(_warmUp.Values);
            return w.ToArray();
        }

        w.WriteDoubles(_stats!.Origin);
        w.WriteDoubles(_stats.ComponentOrigins);
        w.WriteDoubles(_stats.S0);
        w.WriteDoubles(_stats.S1);
        w.WriteDoubles(_stats.S2);
        WriteParameters(w, _params!);
        w.WriteBoolean(_averaging);
        if (_averaging)
        {
            WriteParameters(w, _average!);
        }

        w.WriteInt32(_recentCount);
        w.WriteInt32(_recentNext);
        w.WriteDoubles(_recentRows);
        w.WriteDoubles(_recentLogDensity);
        w.WriteDoubles(_floor);
        w.WriteInt64(_drifts);
        w.WriteInt64(_driftRefits);
        w.WriteInt64(_lastDriftObservation);
        _drift?.WriteTo(w);
        // Where versions 2 to 4 kept the components' recent shares of the responsibilities (a starvation trigger for the drift
        // refit, removed in version 5: a stream that stays a while in one mode starved the others and the refit forgot them).
        w.WriteDoubles([]);
        w.WriteInt64(0);
        w.WriteBoolean(_driftRows is not null);
        if (_driftRows is not null)
        {
            w.WriteDoubles(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_driftRows));
            WriteParameters(w, _alarmParams!); // version 5
        }

        return w.ToArray();
    }

    /// <summary>Rebuilds an estimator from <see cref="SaveState"/> bytes; its future updates are bit-identical to the saved one's.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an online GMM state, have an unsupported version, are corrupted or inconsistent.</exception>
    public static OnlineGaussianMixture Restore(ReadOnlySpan<byte> state)
    {
        var r = new StateReader(state, StateMagic, 1, StateVersion, StateName);
        var d = r.ReadInt32("dimension");
        var k = r.ReadInt32("components");
        var type = (CovarianceType)r.ReadByte("covariance");
        var schedule = StepSizeSchedule.ReadFrom(ref r);
        OnlineGmmOptions options;
        try
        {
            options = new OnlineGmmOptions
            {
                Components = k,
                Covariance = type,
                StepSize = schedule,
                WarmUpObservations = r.ReadInt32("warmUpObservations"),
                WarmUpRestarts = r.ReadInt32("warmUpRestarts"),
                RegCovar = r.ReadDouble("regCovar"),
                ReseedWeight = r.ReadDouble("reseedWeight"),
                RecentCapacity = r.ReadInt32("recentCapacity"),
                Seed = r.ReadUInt64("seed"),
            };

            // Version 1 had neither a relative floor nor drift detection: restoring it continues exactly as before.
            options = r.Version >= 2
                ? options with { RelativeRegCovar = r.ReadDouble("relativeRegCovar"), DetectDrift = r.ReadBoolean("detectDrift") }
                : options with { RelativeRegCovar = 0, DetectDrift = false };
            options.Validate();
            ArgumentOutOfRangeException.ThrowIfLessThan(d, 1, "dimension");
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw r.Invalid("options", e.Message);
        }

        var g = new OnlineGaussianMixture(options, d)
        {
            _rng = DeterministicRandom.ReadFrom(ref r),
            _observations = r.ReadInt64("observations"),
            _batches = r.ReadInt64("batches"),
            _reseeds = r.ReadInt64("reseeds"),
            _lastMeanLogLikelihood = r.ReadDouble("lastMeanLogLikelihood"),
        };

        if (r.ReadBoolean("warmingUp"))
        {
            var buffer = r.ReadDoubles("warmUpRows");
            if (buffer.Length % d != 0)
            {
                throw r.Invalid("warmUpRows", "is not a whole number of rows");
            }

            // More rows than the warm-up size is a fit that waits for a column (or one whose batch crossed the size).
            g._warmUp = new WarmUpBuffer(d, 0);
            g._warmUp.Append(buffer);
            r.EnsureEnd();
            return g;
        }

        var origin = r.ReadDoubles("origin", d);
        var stats = new GmmSufficientStatistics(k, d, type, origin);
        if (r.Version >= 3)
        {
            // Before version 3 every component's statistics were about the origin, which is what the constructor gives.
            var centres = r.ReadDoubles("centres", k * d);
            if (!System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<double>(centres))
            {
                throw r.Invalid("centres", "are not all finite");
            }

            stats.ResetOrigins(centres);
        }

        r.ReadDoubles("s0", k).CopyTo(stats.S0);
        r.ReadDoubles("s1", k * d).CopyTo(stats.S1);
        r.ReadDoubles("s2", GmmSufficientStatistics.S2Length(type, k, d)).CopyTo(stats.S2);
        g.UseStatistics(stats);
        g._params = ReadParameters(ref r, k, d, type, "parameters");
        g._spareParams = new GmmParameters(k, d, type);
        g._averaging = r.ReadBoolean("averaging");
        if (g._averaging)
        {
            g._average = ReadParameters(ref r, k, d, type, "average");
        }

        g._recentCount = r.ReadInt32("recentCount");
        g._recentNext = r.ReadInt32("recentNext");
        if ((uint)g._recentCount > (uint)options.RecentCapacity || (uint)g._recentNext >= (uint)options.RecentCapacity)
        {
            throw r.Invalid("recent", "has positions outside the ring");
        }

        r.ReadDoubles("recentRows", options.RecentCapacity * d).CopyTo(g._recentRows, 0);
        r.ReadDoubles("recentLogDensity", options.RecentCapacity).CopyTo(g._recentLogDensity, 0);
        if (r.Version >= 2)
        {
            r.ReadDoubles("floor", d).CopyTo(g._floor, 0);
            g._drifts = r.ReadInt64("drifts");
            g._driftRefits = r.ReadInt64("driftRefits");
            g._lastDriftObservation = r.ReadInt64("lastDriftObservation");
            if (options.DetectDrift)
            {
                g._drift = PageHinkley.ReadFrom(ref r, r.Version >= 4);

                // Before version 5 the detector learned the rows' loss, whose level its reference holds; fed the surprise
                // (about 0 on any stream) it would sit far below that reference, blind to a rise, for as many rows as it
                // had learned. It starts afresh and learns the surprise's level from the next rows.
                if (r.Version < 5)
                {
                    g._drift.Reset();
                }
            }

            // The recent shares of versions 2 to 4 (see SaveState): read and let go.
            if (r.ReadDoubles("recentShare") is { Length: not 0 } shares && shares.Length != k)
            {
                throw r.Invalid("recentShare", "does not have one entry per component");
            }

            r.ReadInt64("shareRows");

            if (r.ReadBoolean("collectingDrift"))
            {
                var rows = r.ReadDoubles("driftRows");
                if (rows.Length % d != 0)
                {
                    throw r.Invalid("driftRows", "is not a whole number of rows");
                }

                g._driftRows = [.. rows];

                // The parameters at the alarm (version 5); an earlier state collecting rows has only the current ones.
                g._alarmParams = r.Version >= 5 ? ReadParameters(ref r, k, d, type, "alarmParams") : g.Reported.Clone();
            }
        }

        r.EnsureEnd();
        return g;
    }

    // Factors are stored, not recomputed, so a restored model scores with exactly the bits the saved one used.
    private static void WriteParameters(StateWriter w, GmmParameters p)
    {
        w.WriteDoubles(p.Weights);
        w.WriteDoubles(p.LogWeights);
        w.WriteDoubles(p.Means);
        w.WriteDoubles(p.Covariances);
        w.WriteDoubles(p.Cholesky);
        w.WriteDoubles(p.InverseCholesky);
        w.WriteDoubles(p.LogNormalizers);
    }

    private static GmmParameters ReadParameters(ref StateReader r, int k, int d, CovarianceType type, string name)
    {
        var p = new GmmParameters(k, d, type);
        var cov = GmmParameters.CovarianceLength(type, k, d);
        r.ReadDoubles(name + ".weights", k).CopyTo(p.Weights, 0);
        r.ReadDoubles(name + ".logWeights", k).CopyTo(p.LogWeights, 0);
        r.ReadDoubles(name + ".means", k * d).CopyTo(p.Means, 0);
        r.ReadDoubles(name + ".covariances", cov).CopyTo(p.Covariances, 0);
        r.ReadDoubles(name + ".cholesky", cov).CopyTo(p.Cholesky, 0);
        r.ReadDoubles(name + ".inverseCholesky", cov).CopyTo(p.InverseCholesky, 0);
        r.ReadDoubles(name + ".logNormalizers", k).CopyTo(p.LogNormalizers, 0);
        return p;
    }
}
