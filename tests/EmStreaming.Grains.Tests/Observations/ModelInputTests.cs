using EmStreaming.Grains.Observations;
using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Grains.Tests.Observations;

/// <summary>The one place model ids, idempotency keys and rows are checked (carried over from the runtime's GrainKey tests).</summary>
public sealed class ModelInputTests
{
    private const string Allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:";

    [Theory]
    [InlineData("a")]
    [InlineData("sensor-42")]
    [InlineData("plant.7:line_3")]
    [InlineData("...")]
    public void EnsureId_AllowedId_DoesNotThrow(string id)
    {
        ModelInput.EnsureId(id);
        Assert.Null(ModelInput.FindIdProblem(id));
    }

    [Fact]
    public void FindIdProblem_MaxLengthId_IsAccepted_OneMoreIsRejected()
    {
        Assert.Null(ModelInput.FindIdProblem(new string('k', ModelInput.MaxIdLength)));
        Assert.NotNull(ModelInput.FindIdProblem(new string('k', ModelInput.MaxIdLength + 1)));
    }

    [Theory]
    [InlineData("../x", "U+002F at index 2")]
    [InlineData("", "empty")]
    [InlineData("..", "reserved")]
    [InlineData(".", "reserved")]
    [InlineData("a b", "U+0020 at index 1")]
    [InlineData("é", "U+00E9 at index 0")]
    [InlineData("a\\b", "U+005C")]
    public void EnsureId_HostileId_ThrowsValidationNamingTheFieldWithTheReason(string id, string reason)
    {
        var error = Assert.Throws<ModelValidationException>(() => ModelInput.EnsureId(id, "modelId"));
        Assert.Contains(reason, error.Message);
        Assert.Equal("modelId", error.Field);
    }

    [Fact]
    public void EnsureId_TenKilobyteId_RejectedWithoutEchoingIt()
    {
        var error = Assert.Throws<ModelValidationException>(() => ModelInput.EnsureId(new string('x', 10 * 1024)));
        Assert.Contains("10240 characters", error.Message);
        Assert.True(error.Message.Length < 400, "the message must not carry the hostile id");
    }

    [Fact]
    public void EnsureId_Null_Throws() => Assert.Throws<ModelValidationException>(() => ModelInput.EnsureId(null));

    [Fact]
    public void FindIdProblem_AnyStringOfAllowedCharacters_AcceptedUnlessReserved()
    {
        var ids = Gen.Elements(Allowed.ToCharArray()).NonEmptyListOf().Select(cs => new string([.. cs])).Where(s => s.Length <= ModelInput.MaxIdLength);
        Prop.ForAll(ids.ToArbitrary(), id => (ModelInput.FindIdProblem(id) is null) == (id is not ("." or ".."))).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void FindIdProblem_AnyStringWithAForbiddenCharacter_Rejected()
    {
        Prop.ForAll<string, char>((prefix, c) => Allowed.Contains(c) || ModelInput.FindIdProblem((prefix ?? "") + c) is not null).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(ModelInput.MaxIdempotencyKeyLength, true)]
    [InlineData(ModelInput.MaxIdempotencyKeyLength + 1, false)]
    [InlineData(0, false)]
    public void EnsureIdempotencyKey_ByLength_AcceptedUpTo200(int length, bool accepted)
    {
        var key = new string('k', length);
        if (accepted)
        {
            ModelInput.EnsureIdempotencyKey(key);
        }
        else
        {
            Assert.Equal("Idempotency-Key", Assert.Throws<ModelValidationException>(() => ModelInput.EnsureIdempotencyKey(key)).Field);
        }
    }

    [Fact]
    public void EnsureIdempotencyKey_ControlOrNonAsciiCharacter_Rejected()
    {
        Assert.Throws<ModelValidationException>(() => ModelInput.EnsureIdempotencyKey("a\nb"));
        Assert.Throws<ModelValidationException>(() => ModelInput.EnsureIdempotencyKey("clé"));
        ModelInput.EnsureIdempotencyKey(null);
    }

    [Fact]
    public void Validate_JaggedRows_SameAnswerAsTheMatrixPathForRectangularRows()
    {
        double[][] rows = [[1, 2], [double.NaN, double.NaN], [3, double.NaN]];
        var (jagged, jaggedRejected) = ModelInput.Validate(rows, 2);
        var (matrix, matrixRejected) = ModelInput.Validate(new Numerics.DataMatrix([1, 2, double.NaN, double.NaN, 3, double.NaN], 3, 2), 2);
        Assert.Equal(matrix!.Values.ToArray(), jagged!.Values.ToArray());
        Assert.Equal(matrixRejected, jaggedRejected);
    }

    [Theory]
    [InlineData(1e300)]
    [InlineData(-1e155)]
    [InlineData(1.0000001e100)]
    public void Check_ValueBeyondTheLargestMagnitude_IsRejectedNamingIt(double huge)
    {
        // Finite, so it parsed, but its square overflows the model's moments: the grain refused the whole record later.
        var reason = ModelInput.Check([1.0, huge]);
        Assert.NotNull(reason);
        Assert.Contains("value 1", reason);
        var (accepted, rejected) = ModelInput.Validate([[1.0, 2.0], [1.0, huge], [3.0, 4.0]], 2);
        Assert.Equal(2, accepted!.Rows);
        Assert.Equal(1, Assert.Single(rejected).Index);
    }

    [Theory]
    [InlineData(1e100)]
    [InlineData(-1e100)]
    [InlineData(1e-300)]
    public void Check_ValueWithinTheLargestMagnitude_IsAccepted(double value) => Assert.Null(ModelInput.Check([value, 1.0]));
}
