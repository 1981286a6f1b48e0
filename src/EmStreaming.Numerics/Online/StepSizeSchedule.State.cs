namespace EmStreaming.Numerics.Online;

public readonly partial record struct StepSizeSchedule
{
    /// <summary>Appends the schedule to a state (kind, α, n0, γ, floor, cut-off; doubles as raw bits).</summary>
    internal void WriteTo(StateWriter writer)
    {
        writer.WriteByte((byte)Kind);
        writer.WriteDouble(Alpha);
        writer.WriteDouble(Offset);
        writer.WriteDouble(Gamma);
        writer.WriteDouble(Floor);
        writer.WriteInt64(AveragingStart);
    }

    /// <summary>Reads a schedule written by <see cref="WriteTo"/>, validating it like the constructor.</summary>
    internal static StepSizeSchedule ReadFrom(ref StateReader reader)
    {
        var kind = (StepSizeKind)reader.ReadByte("schedule.kind");
        var alpha = reader.ReadDouble("schedule.alpha");
        var offset = reader.ReadDouble("schedule.offset");
        var gamma = reader.ReadDouble("schedule.gamma");
        var floor = reader.ReadDouble("schedule.floor");
        var start = reader.ReadInt64("schedule.averagingStart");
        try
        {
            return new StepSizeSchedule(kind, alpha, offset, gamma, floor, start);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw reader.Invalid("schedule", e.Message);
        }
    }
}
