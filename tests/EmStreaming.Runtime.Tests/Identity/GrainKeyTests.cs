using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Runtime.Tests.Identity;

public sealed class GrainKeyTests
{
    private const string Allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:";

    [Theory]
    [InlineData("a")]
    [InlineData("sensor-42")]
    [InlineData("plant.7:line_3")]
    [InlineData("...")]
    public void Validate_AllowedKey_DoesNotThrow(string key)
    {
        GrainKey.Validate(key);
        Assert.True(GrainKey.IsValid(key));
    }

    [Fact]
    public void Validate_MaxLengthKey_IsAccepted_OneMoreIsRejected()
    {
        Assert.True(GrainKey.IsValid(new string('k', GrainKey.MaxLength)));
        Assert.False(GrainKey.IsValid(new string('k', GrainKey.MaxLength + 1)));
    }

    [Theory]
    [InlineData("../x", "U+002F at index 2")]
    [InlineData("", "empty")]
    [InlineData("..", "reserved")]
    [InlineData(".", "reserved")]
    [InlineData("a b", "U+0020 at index 1")]
    [InlineData("é", "U+00E9 at index 0")]
    [InlineData("a\\b", "U+005C")]
    public void Validate_HostileKey_ThrowsWithReasonAndParameterName(string key, string reason)
    {
        var error = Assert.Throws<InvalidGrainKeyException>(() => GrainKey.Validate(key, "modelId"));
        Assert.Contains(reason, error.Reason);
        Assert.Equal("modelId", error.ParamName);
        Assert.Contains("modelId", error.Message);
    }

    [Fact]
    public void Validate_TenKilobyteKey_RejectedWithoutEchoingIt()
    {
        var key = new string('x', 10 * 1024);
        var error = Assert.Throws<InvalidGrainKeyException>(() => GrainKey.Validate(key));
        Assert.Contains("10240 characters", error.Message);
        Assert.True(error.Message.Length < 400, "the message must not carry the hostile key");
    }

    [Fact]
    public void Validate_Null_Throws()
    {
        Assert.Throws<InvalidGrainKeyException>(() => GrainKey.Validate(null));
    }

    [Fact]
    public void IsValid_AnyStringOfAllowedCharacters_AcceptedUnlessReserved()
    {
        var keys = Gen.Elements(Allowed.ToCharArray()).NonEmptyListOf().Select(cs => new string([.. cs]))
            .Where(s => s.Length <= GrainKey.MaxLength);
        Prop.ForAll(keys.ToArbitrary(), key => GrainKey.IsValid(key) == (key is not ("." or ".."))).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void IsValid_AnyStringWithAForbiddenCharacter_Rejected()
    {
        Prop.ForAll<string, char>((prefix, c) =>
        {
            if (Allowed.Contains(c))
            {
                return true;
            }

            var key = (prefix ?? "") + c;
            return !GrainKey.IsValid(key);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void GrainId_HostileParts_Rejected_ValidPartsRoundTripInToString()
    {
        Assert.Throws<InvalidGrainKeyException>(() => new GrainId("../t", "k"));
        Assert.Throws<InvalidGrainKeyException>(() => new GrainId("t", "../k"));
        Assert.Equal("model/sensor-1", new GrainId("model", "sensor-1").ToString());
        Assert.Equal(new GrainId("m", "k"), new GrainId("m", "k"));
    }
}
