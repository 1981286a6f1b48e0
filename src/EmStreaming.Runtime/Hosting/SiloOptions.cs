namespace EmStreaming.Runtime.Hosting;

/// <summary>Options of the silo (catalog, mailboxes, turns, background jobs). Values are validated in the setters.</summary>
public sealed class SiloOptions
{
    /// <summary>Default <see cref="CollectionAge"/>: 15 minutes (as Orleans).</summary>
    public static readonly TimeSpan DefaultCollectionAge = TimeSpan.FromMinutes(15);

    /// <summary>Default <see cref="CollectionQuantum"/>: 1 minute.</summary>
    public static readonly TimeSpan DefaultCollectionQuantum = TimeSpan.FromMinutes(1);

    /// <summary>Default <see cref="EnqueueTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultEnqueueTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Default <see cref="LongTurnThreshold"/>: 1 second (Orleans' TurnWarningLengthThreshold).</summary>
    public static readonly TimeSpan DefaultLongTurnThreshold = TimeSpan.FromSeconds(1);

    /// <summary>Default <see cref="DeactivationTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultDeactivationTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Default <see cref="MailboxCapacity"/>: 1,000 messages.</summary>
    public const int DefaultMailboxCapacity = 1_000;

    /// <summary>Default <see cref="MaxDeadLetters"/>: 10,000.</summary>
    public const int DefaultMaxDeadLetters = 10_000;

    /// <summary>Default <see cref="MaxBackgroundJobs"/>: processor count minus one, at least one.</summary>
    public static int DefaultMaxBackgroundJobs => Math.Max(1, Environment.ProcessorCount - 1);

    private TimeSpan _collectionAge = DefaultCollectionAge;
    private TimeSpan _collectionQuantum = DefaultCollectionQuantum;
    private TimeSpan _enqueueTimeout = DefaultEnqueueTimeout;
    private TimeSpan _longTurnThreshold = DefaultLongTurnThreshold;
    private TimeSpan _deactivationTimeout = DefaultDeactivationTimeout;
    private int _mailboxCapacity = DefaultMailboxCapacity;
    private int _maxDeadLetters = DefaultMaxDeadLetters;
    private int _maxBackgroundJobs = DefaultMaxBackgroundJobs;

    /// <summary>An activation idle this long is deactivated (after <see cref="Grains.Grain.OnDeactivateAsync"/>). Per grain type: <see cref="GrainTypeOptions.CollectionAge"/>.</summary>
    public TimeSpan CollectionAge { get => _collectionAge; set => _collectionAge = OptionGuard.Positive(value, nameof(CollectionAge)); }

    /// <summary>How often the catalog looks for idle activations.</summary>
    public TimeSpan CollectionQuantum { get => _collectionQuantum; set => _collectionQuantum = OptionGuard.Positive(value, nameof(CollectionQuantum)); }

    /// <summary>Messages an activation's mailbox holds before senders wait. Per grain type: <see cref="GrainTypeOptions.MailboxCapacity"/>.</summary>
    public int MailboxCapacity { get => _mailboxCapacity; set => _mailboxCapacity = OptionGuard.Positive(value, nameof(MailboxCapacity)); }

    /// <summary>How long <see cref="ISilo.TellAsync"/> / <see cref="ISilo.AskAsync{TResult}"/> wait for room in a full mailbox before <see cref="BackpressureTimeoutException"/>.</summary>
    public TimeSpan EnqueueTimeout { get => _enqueueTimeout; set => _enqueueTimeout = OptionGuard.Positive(value, nameof(EnqueueTimeout)); }

    /// <summary>Turns longer than this are logged as warnings and counted in <see cref="SiloStatistics.LongTurns"/>.</summary>
    public TimeSpan LongTurnThreshold { get => _longTurnThreshold; set => _longTurnThreshold = OptionGuard.Positive(value, nameof(LongTurnThreshold)); }

    /// <summary>Longest <see cref="Grains.Grain.OnDeactivateAsync"/> awaited at shutdown.</summary>
    public TimeSpan DeactivationTimeout { get => _deactivationTimeout; set => _deactivationTimeout = OptionGuard.Positive(value, nameof(DeactivationTimeout)); }

    /// <summary>Dead letters kept (the oldest are dropped beyond this).</summary>
    public int MaxDeadLetters { get => _maxDeadLetters; set => _maxDeadLetters = OptionGuard.Positive(value, nameof(MaxDeadLetters)); }

    /// <summary>Background jobs (<see cref="Grains.Grain.StartBackgroundJob{TResult}"/>) running at once across the silo; more wait their turn.</summary>
    public int MaxBackgroundJobs { get => _maxBackgroundJobs; set => _maxBackgroundJobs = OptionGuard.Positive(value, nameof(MaxBackgroundJobs)); }

    internal SiloOptions Clone() => (SiloOptions)MemberwiseClone();
}

/// <summary>Per grain type overrides of <see cref="SiloOptions"/>.</summary>
public sealed class GrainTypeOptions
{
    private TimeSpan? _collectionAge;
    private int? _mailboxCapacity;

    /// <summary>Idle time before deactivation for this grain type; null uses <see cref="SiloOptions.CollectionAge"/>.</summary>
    public TimeSpan? CollectionAge { get => _collectionAge; set => _collectionAge = value is { } v ? OptionGuard.Positive(v, nameof(CollectionAge)) : null; }

    /// <summary>Mailbox capacity for this grain type; null uses <see cref="SiloOptions.MailboxCapacity"/>.</summary>
    public int? MailboxCapacity { get => _mailboxCapacity; set => _mailboxCapacity = value is { } v ? OptionGuard.Positive(v, nameof(MailboxCapacity)) : null; }
}

/// <summary>Counters of a silo, read with <see cref="ISilo.GetStatistics"/>.</summary>
/// <param name="ActiveActivations">Activations currently in the catalog.</param>
/// <param name="Activations">Activations created since start.</param>
/// <param name="Deactivations">Activations deactivated since start.</param>
/// <param name="TurnsCompleted">Turns that completed without exception.</param>
/// <param name="TurnsFailed">Turns that threw (their message went to the dead letters).</param>
/// <param name="LongTurns">Turns longer than <see cref="SiloOptions.LongTurnThreshold"/>.</param>
/// <param name="StreamItemsDelivered">Stream items handed to grains (duplicates included).</param>
/// <param name="DuplicatesSkipped">Replayed stream items skipped because the grain's snapshot already contained them.</param>
/// <param name="RunningBackgroundJobs">Background jobs currently running.</param>
/// <param name="MailboxDepth">Work items waiting in mailboxes now, across activations (not counting the turns running).</param>
public sealed record SiloStatistics(
    int ActiveActivations, long Activations, long Deactivations, long TurnsCompleted, long TurnsFailed, long LongTurns,
    long StreamItemsDelivered, long DuplicatesSkipped, int RunningBackgroundJobs, long MailboxDepth = 0);
