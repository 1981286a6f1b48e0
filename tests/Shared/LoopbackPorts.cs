using System.Net;
using System.Net.Sockets;

namespace EmStreaming.Testing;

/// <summary>
/// Free TCP ports on 127.0.0.1 for test servers and silos (never Orleans' or our fixed defaults). Ports come from below
/// the kernel's ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range, 32768–60999 by default): a port the OS
/// picked for a listener and released can be taken by the next outgoing connection of any process before the server
/// binds it (likely how a chaos-test silo lost its port once), while a port below the range is only ever taken by a
/// listener. No port is handed out twice in one process; test processes running side by side may still pick the same port
/// (rarely: about 18,000 to choose from), which is why servers started as processes are retried on new ports.
/// Ports from 30000 on are left alone: Kubernetes' NodePorts (30000–32767) can be redirected without a listening socket.
/// </summary>
public static class LoopbackPorts
{
    private const int RangeStart = 12_000;
    private static readonly HashSet<int> Reserved = [11_111, 11_311]; // Orleans' and our default silo ports
    private static readonly HashSet<int> HandedOut = [];
    private static readonly int RangeEnd = Math.Min(29_999, EphemeralStart() - 1);

    /// <summary>A port nothing listens on right now (another process may take it later, rarely).</summary>
    public static int Free() => Free(1)[0];

    /// <summary><paramref name="count"/> distinct ports nothing listens on right now, none handed out before in this process.</summary>
    public static int[] Free(int count)
    {
        var ports = new int[count];
        lock (HandedOut)
        {
            for (var i = 0; i < count; i++)
            {
                ports[i] = RangeEnd > RangeStart + 1_000 ? FromBelowEphemeralRange() : FromTheSystem();
                HandedOut.Add(ports[i]);
            }
        }

        return ports;
    }

    private static int FromBelowEphemeralRange()
    {
        for (var attempt = 0; attempt < 10_000; attempt++)
        {
            var port = Random.Shared.Next(RangeStart, RangeEnd + 1);
            if (!Reserved.Contains(port) && !HandedOut.Contains(port) && CanBind(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"no free port in {RangeStart}–{RangeEnd} on 127.0.0.1");
    }

    private static int FromTheSystem()
    {
        while (true)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            if (!HandedOut.Contains(port))
            {
                return port;
            }
        }
    }

    private static bool CanBind(int port)
    {
        try
        {
            var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int EphemeralStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 0; // unknown: let the system pick
        }
    }
}
