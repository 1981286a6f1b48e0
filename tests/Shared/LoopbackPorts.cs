namespace EmStreaming.Testing;

/// <summary>Free TCP ports on 127.0.0.1 for test servers and silos (never Orleans' or our fixed defaults).</summary>
public static class LoopbackPorts
{
    /// <summary>A port nothing listens on right now (the OS picks it; another process may take it later, rarely).</summary>
    public static int Free()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
