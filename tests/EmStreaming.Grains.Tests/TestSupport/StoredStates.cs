using Microsoft.Data.Sqlite;

namespace EmStreaming.Grains.Tests.TestSupport;

/// <summary>Damage done to a stopped silo's SQLite file, as a disk or an operator might.</summary>
internal static class StoredStates
{
    /// <summary>
    /// Overwrites the stored state of the one grain whose id contains <paramref name="grainIdPart"/> with bytes that are not a
    /// model state; with <paramref name="validChecksum"/> the storage's checksum matches them (only our decoding can tell).
    /// </summary>
    public static void Corrupt(string directory, string grainIdPart, bool validChecksum)
    {
        byte[] garbage = [0x45, 0x4d, 0x47, 0x53, 0x02, 0x00, 0x01, 0x00, 0xff, 0xff];
        using var connection = new SqliteConnection($"Data Source={Path.Combine(directory, "emstreaming.db")};Pooling=false");
        connection.Open();
        using var update = connection.CreateCommand();
        update.CommandText = validChecksum
            ? "UPDATE grain_state SET data = $data, checksum = $checksum WHERE grain_id LIKE $id"
            : "UPDATE grain_state SET data = $data WHERE grain_id LIKE $id";
        // The storage's payload: its format byte (0x01: the state's own bytes), then ours.
        byte[] payload = [0x01, .. garbage];
        update.Parameters.AddWithValue("$id", $"%{grainIdPart}%");
        update.Parameters.AddWithValue("$data", payload);
        update.Parameters.AddWithValue("$checksum", unchecked((long)System.IO.Hashing.XxHash64.HashToUInt64(payload)));
        Assert.Equal(1, update.ExecuteNonQuery());
    }
}
