using StackExchange.Redis;

namespace EmStreaming.Providers.Azure.Tests.TestSupport;

/// <summary>The shared Redis fixture gives a working server that keeps nothing on disk.</summary>
public sealed class RedisFixtureTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task ConnectionString_SetThenGet_RoundTrips()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        await db.StringSetAsync("fixture-check", "redis");
        Assert.Equal("redis", (string?)await db.StringGetAsync("fixture-check"));
    }

    [Fact]
    public async Task Server_HasNoPersistence_SaveAndAppendOnlyOff()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        var config = (await server.ConfigGetAsync("*")).ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("", config["save"]);
        Assert.Equal("no", config["appendonly"]);
    }
}
