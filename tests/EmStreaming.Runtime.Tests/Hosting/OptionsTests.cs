using EmStreaming.Runtime.Hosting;
using EmStreaming.Runtime.Sqlite;
using EmStreaming.Runtime.Storage;
using EmStreaming.Runtime.Streams;

namespace EmStreaming.Runtime.Tests.Hosting;

public sealed class OptionsTests
{
    [Fact]
    public void Defaults_AreTheDocumentedConstants()
    {
        var silo = new SiloOptions();
        Assert.Equal(TimeSpan.FromMinutes(15), silo.CollectionAge);
        Assert.Equal(SiloOptions.DefaultMailboxCapacity, silo.MailboxCapacity);
        Assert.Equal(Math.Max(1, Environment.ProcessorCount - 1), silo.MaxBackgroundJobs);
        Assert.Equal(TimeSpan.FromSeconds(1), silo.LongTurnThreshold);
        var streams = new StreamOptions();
        Assert.Equal(StreamOptions.DefaultPartitionCount, streams.PartitionCount);
        Assert.Equal(StreamOptions.DefaultPartitionCapacity, streams.PartitionCapacity);
        Assert.True(new SqliteOptions().FullSync);
        Assert.Equal(SqliteOptions.DefaultFileName, new SqliteOptions().FileName);
    }

    [Fact]
    public void SiloOptions_InvalidValues_ThrowNamingTheSetting()
    {
        var options = new SiloOptions();
        Assert.Equal("CollectionAge", Assert.Throws<ArgumentOutOfRangeException>(() => options.CollectionAge = TimeSpan.Zero).ParamName);
        Assert.Equal("MailboxCapacity", Assert.Throws<ArgumentOutOfRangeException>(() => options.MailboxCapacity = 0).ParamName);
        Assert.Equal("MaxBackgroundJobs", Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxBackgroundJobs = -1).ParamName);
        Assert.Equal("EnqueueTimeout", Assert.Throws<ArgumentOutOfRangeException>(() => options.EnqueueTimeout = TimeSpan.FromSeconds(-1)).ParamName);
        Assert.Equal("CollectionAge", Assert.Throws<ArgumentOutOfRangeException>(() => new GrainTypeOptions { CollectionAge = TimeSpan.Zero }).ParamName);
    }

    [Fact]
    public void StreamOptions_InvalidValues_ThrowNamingTheSetting()
    {
        var options = new StreamOptions();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => options.PartitionCount = 0);
        Assert.Equal("PartitionCount", error.ParamName);
        Assert.Contains("PartitionCount must be between 1 and 4096", error.Message);
        Assert.Equal("PartitionCapacity", Assert.Throws<ArgumentOutOfRangeException>(() => options.PartitionCapacity = 0).ParamName);
        Assert.Equal("AppendTimeout", Assert.Throws<ArgumentOutOfRangeException>(() => options.AppendTimeout = TimeSpan.Zero).ParamName);
    }

    [Fact]
    public void SqliteOptions_FileNameWithDirectoryParts_Rejected()
    {
        var options = new SqliteOptions();
        Assert.Equal("FileName", Assert.Throws<ArgumentException>(() => options.FileName = "../evil.db").ParamName);
        Assert.Equal("DataDirectory", Assert.Throws<ArgumentException>(() => options.DataDirectory = " ").ParamName);
    }

    [Fact]
    public void SnapshotRetention_NonPositive_Rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SnapshotRetention(0, TimeSpan.FromDays(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SnapshotRetention(1, TimeSpan.Zero));
    }

    [Fact]
    public void SiloBuilder_SubscriptionToUnregisteredGrainType_FailsAtBuild()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new SiloBuilder().AddImplicitSubscription("obs", "model").Build());
        Assert.Contains("'model'", error.Message);
    }

    [Fact]
    public void SiloBuilder_SameGrainTypeTwice_Rejected()
    {
        var builder = new SiloBuilder().AddGrain<TestSupport.CounterGrain>("counter");
        Assert.Throws<ArgumentException>(() => builder.AddGrain<TestSupport.CounterGrain>("counter"));
    }
}
