using System.Diagnostics;
using System.Text;

namespace SparseStorage.Core.Aoe;

/// <summary>
/// A userspace AoE initiator on one interface: finds targets with a broadcast Query Config and sizes them with ATA
/// IDENTIFY, then reads and writes their sectors (<see cref="AoeDisk"/>). It needs no aoe kernel driver, only a raw
/// socket, so it works wherever the process may open one (root, or CAP_NET_RAW).
/// </summary>
public sealed class AoeClient : IDisposable
{
    private readonly PacketSocket socket;
    private readonly byte[] receiveBuffer = new byte[64 * 1024];

    private AoeClient(PacketSocket socket) => this.socket = socket;

    /// <exception cref="AoeInterfaceException">The interface is missing or down.</exception>
    public static AoeClient Open(string interfaceName) => new(PacketSocket.Open(interfaceName));

    public string Interface => socket.Interface;
    public MacAddress Address => socket.Address;
    public int Mtu => socket.Mtu;

    /// <summary>Every target that answers a broadcast Query Config within <paramref name="timeout"/>, by shelf and slot, each sized by IDENTIFY.</summary>
    public IReadOnlyList<AtaoeTarget> Discover(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        QueryConfig(timeout, cancellationToken)
            .OrderBy(a => a.Key.Shelf).ThenBy(a => a.Key.Slot).ThenBy(a => a.Key.Address.Value)
            .Select(a => Describe(a.Key.Address, a.Key.Shelf, a.Key.Slot, a.Value, cancellationToken))
            .ToList();

    /// <summary>Opens sector I/O with a discovered target.</summary>
    public AoeDisk Connect(AtaoeTarget target, AoeDiskOptions? options = null) =>
        new(socket, MacAddress.Parse(target.MacAddress), target.Shelf, target.Slot, target.BufferCount, target.MaxSectorsPerRequest, options);

    /// <summary>
    /// Sets the target's config string (Query Config "set if empty", or "force set"): initiators use it to claim a
    /// target. Returns what the target answered.
    /// </summary>
    public AoeConfig SetConfigString(AtaoeTarget target, string configString, bool force = false, CancellationToken cancellationToken = default)
    {
        var address = MacAddress.Parse(target.MacAddress);
        var tag = (uint)Random.Shared.Next();
        var frame = new byte[AoeProtocol.ConfigFrameHeaderLength + 1024];
        new AoeHeader(address, Address, false, AoeError.None, (ushort)target.Shelf, (byte)target.Slot, AoeCommand.QueryConfig, tag).Write(frame);
        var length = new AoeConfig(0, 0, 0, AoeProtocol.Version, (byte)(force ? 4 : 3), Encoding.ASCII.GetBytes(configString)).Write(frame);
        for (var attempt = 0; attempt < 4; attempt++)
        {
            socket.Send(frame.AsSpan(0, length));
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromMilliseconds(250))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var received = socket.Receive(receiveBuffer, TimeSpan.FromMilliseconds(250) - clock.Elapsed);
                var answer = receiveBuffer.AsSpan(0, received);
                if (received == 0 || !AoeHeader.TryRead(answer, out var header) || !header.IsResponse || header.Tag != tag || header.Source != address)
                    continue;
                return header.IsError
                    ? throw new AoeTargetException("AoeConfigRefused", $"AoE target {target} refused the config string: {header.Error}.", target.ToString())
                    : AoeConfig.Read(answer);
            }
        }
        throw new AoeTargetException("AoeTargetTimeout", $"AoE target {target} did not answer Query Config.", target.ToString(), StorageErrorKind.OperationTimeout);
    }

    public void Dispose() => socket.Dispose();

    private Dictionary<(MacAddress Address, ushort Shelf, byte Slot), AoeConfig> QueryConfig(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var frame = new byte[AoeProtocol.MinimumFrameLength];
        new AoeHeader(MacAddress.Broadcast, Address, false, AoeError.None, AoeProtocol.BroadcastShelf, AoeProtocol.BroadcastSlot,
            AoeCommand.QueryConfig, (uint)Random.Shared.Next()).Write(frame);
        socket.Send(frame.AsSpan(0, AoeConfig.ReadQuery.Write(frame)));

        var answers = new Dictionary<(MacAddress, ushort, byte), AoeConfig>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var wait = TimeSpan.FromTicks(Math.Min((timeout - clock.Elapsed).Ticks, TimeSpan.FromMilliseconds(100).Ticks));
            var received = socket.Receive(receiveBuffer, wait);
            var answer = receiveBuffer.AsSpan(0, received);
            if (received > 0 && AoeHeader.TryRead(answer, out var header) && header.IsResponse && !header.IsError
                && header.Command == AoeCommand.QueryConfig && answer.Length >= AoeProtocol.ConfigFrameHeaderLength)
                answers.TryAdd((header.Source, header.Shelf, header.Slot), AoeConfig.Read(answer));
        }
        return answers;
    }

    private AtaoeTarget Describe(MacAddress address, ushort shelf, byte slot, AoeConfig config, CancellationToken cancellationToken)
    {
        var identify = new AoeDisk(socket, address, shelf, slot, 1, config.SectorCount, new AoeDiskOptions { MaxAttempts = 4 }).Identify(cancellationToken);
        return new AtaoeTarget
        {
            Shelf = shelf,
            Slot = slot,
            Interface = Interface,
            MacAddress = address.ToString(),
            Sectors = identify.Sectors,
            FirmwareVersion = identify.FirmwareRevision,
            ConfigFirmware = config.FirmwareVersion,
            BufferCount = config.BufferCount,
            MaxSectorsPerRequest = config.SectorCount,
            AoeVersion = config.AoeVersion,
            Model = identify.Model,
            Serial = identify.Serial,
            ConfigString = Encoding.ASCII.GetString(config.ConfigString),
        };
    }
}
