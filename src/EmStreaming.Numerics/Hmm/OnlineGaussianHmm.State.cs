using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Hmm;

public sealed partial class OnlineGaussianHmm
{
    private const string StateMagic = "EHMM";
    private const ushort StateVersion = 3;
    private const string StateName = "online HMM state";

    /// <summary>
    /// Serializes the complete estimator (settings, phase, counters, buffer, parameters, averages, filter,
    /// statistics) into a versioned binary state with a checksum. Doubles are stored as raw bits, so
    /// <see cref="RestoreState"/> gives an estimator whose future outputs are bit-identical to this one's.
    /// </summary>
    public byte[] SaveState()
    {
        var w = new StateWriter(StateMagic, StateVersion, 512 + (8 * (_buffer.Values.Length + _rho.Length)));
        w.WriteInt32(_k);
        w.WriteInt32(_d);
        w.WriteByte((byte)_type);
        _schedule.WriteTo(w);
        w.WriteInt32(_bufferSize);
        w.WriteInt64(_burnIn);
        w.WriteDouble(_regCovar);
        w.WriteDouble(_transitionFloor);
        w.WriteDouble(_bufferFit.Tolerance);
        w.WriteDouble(_bufferFit.AbsoluteTolerance);
        w.WriteInt32(_bufferFit.MaxIterations);
        w.WriteDouble(_bufferFit.TransitionPseudoCount);
        w.WriteInt32(_bufferFit.Restarts);
        w.WriteUInt64(_bufferFit.Seed);

        w.WriteByte((byte)_phase);
        w.WriteInt64(_observations);
        w.WriteInt64(_steps);
        w.WriteInt32(_buffer.Rows);
        w.WriteBoolean(_sequenceStart);
        w.WriteBoolean(_averaged);
        w.WriteInt32(_regime);
        w.WriteInt64(_runLength);
        w.WriteDouble(_prequentialSum);
        w.WriteInt64(_prequentialCount);
        w.WriteDouble(_lastStepSize);
        w.WriteDoubles(_buffer.Values);

        w.WriteDoubles(_start);
        w.WriteDoubles(_transitions);
        w.WriteDoubles(_emissions.Means);
        w.WriteDoubles(_emissions.Covariances);
        w.WriteDoubles(_avgTransitions);
        w.WriteDoubles(_avgMeans);
        w.WriteDoubles(_avgCovariances);
        w.WriteDoubles(_origin);
        w.WriteDoubles(_psiBuffer is null ? [] : _psiBuffer.ComponentOrigins);
        w.WriteDoubles(_phi);
        w.WriteDoubles(_rho);
        w.WriteDoubles(_statistics);
        w.WriteDouble(_relativeRegCovar);
        w.WriteDoubles(_floor);
        return w.ToArray();
    }

    /// <summary>Rebuilds an estimator from <see cref="SaveState"/> output.</summary>
    /// <exception cref="InvalidDataException">Not an online HMM state, unsupported version, truncated, corrupted or inconsistent; the message names the field.</exception>
    public static OnlineGaussianHmm RestoreState(ReadOnlySpan<byte> state)
    {
        var r = new StateReader(state, StateMagic, 1, StateVersion, StateName);
        var k = r.ReadInt32("states");
        var d = r.ReadInt32("dimension");
        var type = (CovarianceType)r.ReadByte("covariance");
        var schedule = StepSizeSchedule.ReadFrom(ref r);
        var bufferSize = r.ReadInt32("bufferSize");
        var burnIn = r.ReadInt64("burnIn");
        var reg = r.ReadDouble("regCovar");
        var floor = r.ReadDouble("transitionFloor");
        var tol = r.ReadDouble("bufferFit.tolerance");

        // Version 1 stopped on the per-row tolerance alone.
        var absoluteTol = r.Version >= 2 ? r.ReadDouble("bufferFit.absoluteTolerance") : 0.0;
        var maxIter = r.ReadInt32("bufferFit.maxIterations");
        var pseudo = r.ReadDouble("bufferFit.transitionPseudoCount");
        var restarts = r.ReadInt32("bufferFit.restarts");
        var seed = r.ReadUInt64("bufferFit.seed");
        OnlineGaussianHmm h;
        try
        {
            var options = new OnlineHmmOptions
            {
                States = k,
                Covariance = type,
                StepSize = schedule,
                BufferSize = bufferSize,
                BurnIn = burnIn,
                RegCovar = reg,
                TransitionFloor = floor,
                BufferFit = new HmmFitOptions { States = k, Tolerance = tol, AbsoluteTolerance = absoluteTol, MaxIterations = maxIter, TransitionPseudoCount = pseudo, Restarts = restarts, Seed = seed },
            };
            h = new OnlineGaussianHmm(options, d);
        }
        catch (ArgumentException e)
        {
            throw r.Invalid("settings", e.Message);
        }

        var phase = (OnlineHmmPhase)r.ReadByte("phase");
        if (!Enum.IsDefined(phase))
        {
            throw r.Invalid("phase", "is not a known phase");
        }

        h._phase = phase;
        h._observations = r.ReadInt64("observations");
        h._steps = r.ReadInt64("steps");
        var buffered = r.ReadInt32("buffered");
        // A full buffer while buffering is a fit that waits (a column with no observed value, or a fit that threw).
        if (buffered < 0 || buffered > bufferSize)
        {
            throw r.Invalid("buffered", "is out of range");
        }

        h._sequenceStart = r.ReadBoolean("sequenceStart");
        h._averaged = r.ReadBoolean("averaged");
        h._regime = r.ReadInt32("regime");
        h._runLength = r.ReadInt64("runLength");
        h._prequentialSum = r.ReadDouble("prequentialSum");
        h._prequentialCount = r.ReadInt64("prequentialCount");
        h._lastStepSize = r.ReadDouble("lastStepSize");
        h._buffer.Append(r.ReadDoubles("buffer", buffered * d));

        r.ReadDoubles("start", k).CopyTo(h._start, 0);
        r.ReadDoubles("transitions", k * k).CopyTo(h._transitions, 0);
        r.ReadDoubles("means", h._emissions.Means.Length).CopyTo(h._emissions.Means, 0);
        r.ReadDoubles("covariances", h._emissions.Covariances.Length).CopyTo(h._emissions.Covariances, 0);
        r.ReadDoubles("averageTransitions", k * k).CopyTo(h._avgTransitions, 0);
        r.ReadDoubles("averageMeans", h._avgMeans.Length).CopyTo(h._avgMeans, 0);
        r.ReadDoubles("averageCovariances", h._avgCovariances.Length).CopyTo(h._avgCovariances, 0);
        var origin = r.ReadDoubles("origin", d);
        // Version 3 keeps each state's centre (empty while buffering); before it every state's was the origin.
        var centres = r.Version >= 3 ? r.ReadDoubles("centres") : [];
        if (centres.Length is not 0 && (centres.Length != k * d || !System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<double>(centres)))
        {
            throw r.Invalid("centres", $"must be empty or {k * d} finite values");
        }

        r.ReadDoubles("regimeProbabilities", k).CopyTo(h._phi, 0);
        r.ReadDoubles("rho", h._rho.Length).CopyTo(h._rho, 0);
        r.ReadDoubles("statistics", h._statistics.Length).CopyTo(h._statistics, 0);
        if (r.Version >= 2)
        {
            var relative = r.ReadDouble("relativeRegCovar");
            if (!(relative >= 0) || !double.IsFinite(relative))
            {
                throw r.Invalid("relativeRegCovar", "is not a finite value ≥ 0");
            }

            h._relativeRegCovar = relative;
            h._floor = r.ReadDoubles("floor", d);
        }
        else
        {
            // Version 1 had no relative floor: restoring it continues exactly as before.
            h._relativeRegCovar = 0;
        }

        r.EnsureEnd();

        h._origin = origin;
        if (phase != OnlineHmmPhase.Buffering)
        {
            // The factors are a deterministic function of the covariances, so refactoring reproduces them bit for bit.
            if (!h._emissions.TryRefreshFactors(out var failed))
            {
                throw r.Invalid("covariances", $"state {failed} is not positive definite");
            }

            h._psiBuffer = new GmmSufficientStatistics(k, d, type, origin);
            h._mStepStatistics = new GmmSufficientStatistics(k, d, type, origin);
            if (centres.Length is not 0)
            {
                h._psiBuffer.ResetOrigins(centres);
                h._mStepStatistics.ResetOrigins(centres);
            }
        }

        return h;
    }
}
