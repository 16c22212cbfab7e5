using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Aoe;

/// <summary>
/// An AF_PACKET raw socket bound to one interface that sends and receives AoE frames (packet(7)). Interface facts
/// come from ioctls on the socket, so they belong to the network namespace the socket was opened in.
/// </summary>
public sealed unsafe class PacketSocket : IDisposable
{
    private const int InterfaceRequestLength = 40;
    private const int BufferBytes = 8 << 20;
    private readonly int fd;

    private PacketSocket(int fd, string interfaceName, MacAddress address, int mtu)
    {
        this.fd = fd;
        Interface = interfaceName;
        Address = address;
        Mtu = mtu;
    }

    public string Interface { get; }
    public MacAddress Address { get; }
    public int Mtu { get; }

    /// <exception cref="AoeInterfaceException">The interface does not exist or is down.</exception>
    public static PacketSocket Open(string interfaceName)
    {
        var fd = Libc.socket(Libc.AF_PACKET, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, BinaryPrimitives.ReverseEndianness(AoeProtocol.EtherType));
        if (fd < 0)
            throw Marshal.GetLastPInvokeError() is Libc.EPERM or Libc.EACCES
                ? new NotRootException("Sending AoE frames (a raw AF_PACKET socket needs CAP_NET_RAW)")
                : Libc.ErrnoException("socket(AF_PACKET)");
        try
        {
            var index = InterfaceInt(fd, interfaceName, Libc.SIOCGIFINDEX);
            if ((InterfaceInt(fd, interfaceName, Libc.SIOCGIFFLAGS) & Libc.IFF_UP) == 0)
                throw new AoeInterfaceException("AoeInterfaceDown", $"Network interface '{interfaceName}' is down; bring it up (ip link set {interfaceName} up).", interfaceName);
            var socket = new PacketSocket(fd, interfaceName, HardwareAddress(fd, interfaceName), InterfaceInt(fd, interfaceName, Libc.SIOCGIFMTU));
            socket.Bind(index);
            return socket;
        }
        catch
        {
            Libc.close(fd);
            throw;
        }
    }

    public void Send(ReadOnlySpan<byte> frame)
    {
        fixed (byte* bytes = frame)
        {
            while (Libc.send(fd, bytes, frame.Length, 0) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.ENOBUFS)
                    Thread.Sleep(1); // the interface's queue is full; it drains in microseconds
                else if (errno != Libc.EINTR)
                    throw Libc.ErrnoException($"send on {Interface}");
            }
        }
    }

    /// <summary>Receives one frame, waiting at most <paramref name="timeout"/>; 0 when none came.</summary>
    public int Receive(Span<byte> buffer, TimeSpan timeout)
    {
        fixed (byte* bytes = buffer)
        {
            var received = Libc.recv(fd, bytes, buffer.Length, Libc.MSG_DONTWAIT);
            if (received >= 0)
                return (int)received;
            if (Marshal.GetLastPInvokeError() is not (Libc.EAGAIN or Libc.EINTR))
                throw Libc.ErrnoException($"recv on {Interface}");
            var poll = new Libc.PollFd { Fd = fd, Events = Libc.POLLIN };
            var ready = Libc.poll(&poll, 1, (int)Math.Clamp(Math.Ceiling(timeout.TotalMilliseconds), 0, int.MaxValue));
            if (ready <= 0)
                return 0;
            received = Libc.recv(fd, bytes, buffer.Length, Libc.MSG_DONTWAIT);
            return received > 0 ? (int)received : 0;
        }
    }

    public void Dispose() => Libc.close(fd);

    private void Bind(int index)
    {
        // struct sockaddr_ll: family, protocol (network order), ifindex, hatype, pkttype, halen, addr[8].
        var address = stackalloc byte[20];
        new Span<byte>(address, 20).Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(address, 2), Libc.AF_PACKET);
        BinaryPrimitives.WriteUInt16BigEndian(new Span<byte>(address + 2, 2), AoeProtocol.EtherType);
        BinaryPrimitives.WriteInt32LittleEndian(new Span<byte>(address + 4, 4), index);
        if (Libc.bind(fd, address, 20) != 0)
            throw Libc.ErrnoException($"bind to {Interface}");
        // Deep buffers: a window of jumbo responses must not be dropped while the client is busy.
        SetOption(Libc.SOL_SOCKET, Libc.SO_RCVBUFFORCE, BufferBytes, fallback: Libc.SO_RCVBUF);
        SetOption(Libc.SOL_SOCKET, Libc.SO_SNDBUFFORCE, BufferBytes, fallback: Libc.SO_SNDBUF);
        // Our own requests would otherwise come back to us (packet sockets see outgoing frames); Linux 4.20 and later.
        SetOption(Libc.SOL_PACKET, Libc.PACKET_IGNORE_OUTGOING, 1, fallback: null);
    }

    private void SetOption(int level, int name, int value, int? fallback)
    {
        if (Libc.setsockopt(fd, level, name, &value, sizeof(int)) != 0 && fallback is { } other)
            Libc.setsockopt(fd, level, other, &value, sizeof(int));
    }

    private static int InterfaceInt(int fd, string interfaceName, ulong request)
    {
        var ifreq = InterfaceRequest(interfaceName);
        fixed (byte* bytes = ifreq)
        {
            if (Libc.ioctl(fd, request, bytes) != 0)
                throw Marshal.GetLastPInvokeError() == Libc.ENODEV
                    ? AoeInterfaceException.Missing(interfaceName)
                    : Libc.ErrnoException($"ioctl on {interfaceName}");
        }
        return BinaryPrimitives.ReadInt32LittleEndian(ifreq.AsSpan(16));
    }

    private static MacAddress HardwareAddress(int fd, string interfaceName)
    {
        var ifreq = InterfaceRequest(interfaceName);
        fixed (byte* bytes = ifreq)
        {
            if (Libc.ioctl(fd, Libc.SIOCGIFHWADDR, bytes) != 0)
                throw Libc.ErrnoException($"ioctl SIOCGIFHWADDR on {interfaceName}");
        }
        // ifr_hwaddr is a struct sockaddr: two bytes of family, then the address.
        return MacAddress.Read(ifreq.AsSpan(18));
    }

    private static byte[] InterfaceRequest(string interfaceName)
    {
        var name = Encoding.ASCII.GetBytes(interfaceName);
        if (name.Length is 0 or > 15)
            throw AoeInterfaceException.Missing(interfaceName);
        var ifreq = new byte[InterfaceRequestLength];
        name.CopyTo(ifreq, 0);
        return ifreq;
    }
}
