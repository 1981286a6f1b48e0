using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace EmStreaming.Cli.Tests.Client;

/// <summary><c>emstream replay</c> against the real server (<see cref="InProcessServer"/>).</summary>
public sealed class ReplayServerTests
{
    private const int RowCount = 80;
    private static readonly string Rows = "a,b\n" + string.Concat(Enumerable.Range(0, RowCount).Select(i => $"{i},{2 * i}\n"));

    [Fact]
    public async Task Replay_ModelRedefinedPartWay_ServerRejectsTheLaterRows_ExitsFourNamingThem_EarlierRowsApplied()
    {
        // Every row rule of the server (width, range, all missing) is checked by replay before it sends a row: what the real
        // server can still reject is a row that was valid when the replay began, here after another client redefined the model
        // with another dimension while the replay was paced at 4 rows per second (20 s in all: the first row's arrival may take
        // seconds on a loaded machine, and the model must be redefined before the last row is sent).
        await using var server = await InProcessServer.StartAsync();
        const string id = "cli:partial";
        await PutAsync(server, id, 2);
        using var csv = new CliRunner.TempFile(content: Rows);
        var replay = Task.Run(() => CliRunner.Run("replay", csv.Path, "--model", id, "--server", server.Url, "--batch", "1", "--rate", "4", "--json"));
        var applied = await ObservationsAsync(server, id, atLeast: 1);
        Assert.True(applied < RowCount, "the replay ended before the model was redefined");
        await PutAsync(server, id, 3);
        var (code, output, error) = await replay;

        var summary = JsonDocument.Parse(output).RootElement;
        var accepted = summary.GetProperty("accepted").GetInt32();
        var rejected = summary.GetProperty("rejected").EnumerateArray().ToArray();
        Assert.True(accepted >= 1 && rejected.Length >= 1, output);
        Assert.Equal(RowCount, accepted + rejected.Length);
        Assert.True(code == 4, $"exit {code}: {error}");
        var first = rejected[0].GetProperty("row").GetInt32();
        Assert.StartsWith($"error: {csv.Path}: model '{id}' rejected {rejected.Length} of its {RowCount} rows and applied the other {accepted}; row {first}: row has 2 values; the model's dimension is 3", error);
    }

    private static async Task PutAsync(InProcessServer server, string id, int dimension)
    {
        var put = await server.Http.PutAsync($"{server.Url}/v1/models/{id}",
            new StringContent($$"""{"kind":"gmm","dimension":{{dimension}},"components":2}""", Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
    }

    private static async Task<long> ObservationsAsync(InProcessServer server, string id, long atLeast)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var model = await server.Http.GetFromJsonAsync<JsonElement>($"{server.Url}/v1/models/{id}");
            var observations = model.GetProperty("status").GetProperty("observations").GetInt64();
            if (observations >= atLeast || DateTime.UtcNow > deadline)
            {
                return observations;
            }

            await Task.Delay(20);
        }
    }
}
