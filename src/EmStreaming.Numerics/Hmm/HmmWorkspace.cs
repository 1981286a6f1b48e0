namespace EmStreaming.Numerics.Hmm;

/// <summary>
/// Every buffer one Baum–Welch E-step needs, allocated once per fit (or per scoring call) for the total number
/// of rows over all sequences and reused by every iteration: the EM loop allocates nothing.
/// </summary>
internal sealed class HmmWorkspace
{
    private readonly int _k;

    public HmmWorkspace(int totalRows, int states, HmmEmissions shape)
    {
        _k = states;
        LogEmission = new double[totalRows * states];
        Emission = new double[totalRows * states];
        RowMax = new double[totalRows];
        Alpha = new double[totalRows * states];
        Xi = new double[states * states];
        StartCounts = new double[states];
        Scratch = new double[Math.Max(shape.ScratchLength, 3 * states)];
        Pred = new double[states];
    }

    public double[] LogEmission { get; }

    public double[] Emission { get; }

    public double[] RowMax { get; }

    /// <summary>Filtered marginals after the forward pass, smoothed after the backward pass.</summary>
    public double[] Alpha { get; }

    public double[] Xi { get; }

    public double[] StartCounts { get; }


    public double[] Scratch { get; }

    public double[] Pred { get; }

    public static HmmWorkspace For(GaussianHmm model, DataMatrix sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        Validate(sequence, model.Dimension, sequenceIndex: -1);
        return new HmmWorkspace(sequence.Rows, model.States, model.Emissions);
    }

    /// <summary>Checks the dimension and that every row has at least one observed entry.</summary>
    public static void Validate(DataMatrix sequence, int dimension, int sequenceIndex)
    {
        if (sequence.Columns != dimension)
        {
            throw new ArgumentException($"data has {sequence.Columns} columns but the model has dimension {dimension}.", nameof(sequence));
        }

        if (!sequence.HasMissing)
        {
            return;
        }

        for (var t = 0; t < sequence.Rows; t++)
        {
            var row = sequence.Row(t);
            var any = false;
            foreach (var v in row)
            {
                if (!double.IsNaN(v))
                {
                    any = true;
                    break;
                }
            }

            if (!any)
            {
                var where = sequenceIndex >= 0 ? $"sequence {sequenceIndex} row {t}" : $"row {t}";
                throw new ArgumentException($"{where} has no observed value.", nameof(sequence));
            }
        }
    }

    public void ComputeLogEmission(GaussianHmm model, DataMatrix sequence)
        => model.Emissions.LogDensities(sequence, 0, sequence.Rows, LogEmission, Scratch);

    /// <summary>Forward pass of one sequence stored at row 0; Alpha then holds the filtered marginals.</summary>
    public double Forward(GaussianHmm model, DataMatrix sequence)
    {
        if (sequence.Rows == 0)
        {
            return 0.0;
        }

        ComputeLogEmission(model, sequence);
        return ForwardAt(0, sequence.Rows, model.StartProbabilities, model.Transitions);
    }

    public void BackwardInto(GaussianHmm model, int rows)
    {
        if (rows > 0)
        {
            Array.Clear(Xi);
            BackwardAt(0, rows, model.Transitions);
        }
    }

    /// <summary>Forward over rows [offset, offset+n) whose log emissions are already in place.</summary>
    public double ForwardAt(int offset, int n, ReadOnlySpan<double> start, ReadOnlySpan<double> transitions)
    {
        var k = _k;
        var log = LogEmission.AsSpan(offset * k, n * k);
        var em = Emission.AsSpan(offset * k, n * k);
        var rowMax = RowMax.AsSpan(offset, n);
        HmmForwardBackward.ShiftAndExponentiate(log, n, k, em, rowMax);
        return HmmForwardBackward.Forward(log, em, rowMax, n, k, start, transitions, Alpha.AsSpan(offset * k, n * k), Pred);
    }

    /// <summary>Backward over rows [offset, offset+n): Alpha becomes the smoothed marginals, ξ sums added to Xi.</summary>
    public void BackwardAt(int offset, int n, ReadOnlySpan<double> transitions)
    {
        var k = _k;
        HmmForwardBackward.Backward(Emission.AsSpan(offset * k, n * k), n, k, transitions, Alpha.AsSpan(offset * k, n * k), Xi, Scratch);
    }
}
