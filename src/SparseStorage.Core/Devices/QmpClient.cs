using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SparseStorage.Core.Devices;

/// <summary>
/// A minimal QEMU Machine Protocol client over a unix socket (qemu docs: interop/qmp-spec): enough to resize the
/// image a running qemu-storage-daemon holds open, which qemu-img cannot do because of the daemon's image lock.
/// </summary>
public sealed class QmpClient : IDisposable
{
    private readonly Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly StreamReader reader;
    private readonly NetworkStream stream;

    private QmpClient(string socketPath, TimeSpan timeout)
    {
        socket.ReceiveTimeout = socket.SendTimeout = (int)timeout.TotalMilliseconds;
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        stream = new NetworkStream(socket);
        reader = new StreamReader(stream, Encoding.UTF8);
    }

    public static QmpClient Connect(string socketPath, TimeSpan timeout)
    {
        var client = new QmpClient(socketPath, timeout);
        client.ReadReply(); // greeting
        client.Execute("qmp_capabilities");
        return client;
    }

    /// <summary>Runs a command and returns its "return" value; a QMP "error" becomes an exception with qemu's description.</summary>
    public JsonNode? Execute(string command, JsonObject? arguments = null)
    {
        var request = new JsonObject { ["execute"] = command };
        if (arguments is not null)
            request["arguments"] = arguments;
        var bytes = Encoding.UTF8.GetBytes(request.ToJsonString() + "\n");
        stream.Write(bytes);
        var reply = ReadReply();
        if (reply["error"] is JsonObject error)
            throw new StorageOperationException("QmpCommandFailed", $"qemu-storage-daemon refused {command}: {error["desc"]}.", command);
        return reply["return"];
    }

    private JsonObject ReadReply()
    {
        while (true)
        {
            var line = reader.ReadLine() ?? throw new IOException("qemu-storage-daemon closed its monitor socket.");
            if (JsonNode.Parse(line) is JsonObject message && message["event"] is null)
                return message;
        }
    }

    public void Dispose()
    {
        reader.Dispose();
        stream.Dispose();
        socket.Dispose();
    }
}
