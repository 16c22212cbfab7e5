using System.Buffers.Binary;

namespace SparseStorage.Core.Aoe;

/// <summary>
/// The ATA over Ethernet frame layout (Coraid's AoE specification, revision 11): an Ethernet header, the AoE
/// header, then an ATA or Query Config header. Multi-byte AoE fields are big-endian; the ATA LBA is little-endian.
/// </summary>
public static class AoeProtocol
{
    public const ushort EtherType = 0x88A2;
    public const int Version = 1;
    public const int EthernetHeaderLength = 14;
    /// <summary>Ethernet and AoE headers together.</summary>
    public const int HeaderLength = 24;
    public const int AtaFrameHeaderLength = HeaderLength + 12;
    public const int ConfigFrameHeaderLength = HeaderLength + 8;
    public const int SectorSize = 512;
    /// <summary>Ethernet frames are padded to this length; a shorter frame on the wire is still this long.</summary>
    public const int MinimumFrameLength = 60;

    public const int MaxShelf = 0xFFFE;
    public const int MaxSlot = 0xFE;
    /// <summary>Shelf 0xFFFF and slot 0xFF address every target; the protocol reserves them for broadcasts.</summary>
    public const ushort BroadcastShelf = 0xFFFF;
    public const byte BroadcastSlot = 0xFF;

    /// <summary>Sectors one frame can carry on an interface with this MTU (1500: 2, 9000: 17).</summary>
    public static int SectorsPerFrame(int mtu) => Math.Max(1, (mtu - (AtaFrameHeaderLength - EthernetHeaderLength)) / SectorSize);
}

public enum AoeCommand : byte
{
    Ata = 0,
    QueryConfig = 1,
    MacMask = 2,
    Reserve = 3,
}

/// <summary>The error codes an AoE target puts in a response that has the error flag.</summary>
public enum AoeError : byte
{
    None = 0,
    UnrecognizedCommand = 1,
    BadArgument = 2,
    DeviceUnavailable = 3,
    ConfigStringPresent = 4,
    UnsupportedVersion = 5,
    TargetReserved = 6,
}

/// <summary>The Ethernet and AoE headers of one frame.</summary>
public readonly record struct AoeHeader(
    MacAddress Destination, MacAddress Source, bool IsResponse, AoeError Error, ushort Shelf, byte Slot, AoeCommand Command, uint Tag)
{
    private const byte ResponseFlag = 0x08;
    private const byte ErrorFlag = 0x04;

    public bool IsError => Error != AoeError.None;

    public void Write(Span<byte> frame)
    {
        Destination.Write(frame);
        Source.Write(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], AoeProtocol.EtherType);
        frame[14] = (byte)(AoeProtocol.Version << 4 | (IsResponse ? ResponseFlag : 0) | (IsError ? ErrorFlag : 0));
        frame[15] = (byte)Error;
        BinaryPrimitives.WriteUInt16BigEndian(frame[16..], Shelf);
        frame[18] = Slot;
        frame[19] = (byte)Command;
        BinaryPrimitives.WriteUInt32BigEndian(frame[20..], Tag);
    }

    /// <summary>Reads the headers; false for a frame that is too short, of another EtherType or another AoE version.</summary>
    public static bool TryRead(ReadOnlySpan<byte> frame, out AoeHeader header)
    {
        header = default;
        if (frame.Length < AoeProtocol.HeaderLength || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != AoeProtocol.EtherType
            || frame[14] >> 4 != AoeProtocol.Version)
            return false;
        var flags = frame[14];
        // A target that sets the error flag with code 0 still reports a failure; keep it visible as BadArgument.
        var error = (flags & ErrorFlag) == 0 ? AoeError.None : frame[15] == 0 ? AoeError.BadArgument : (AoeError)frame[15];
        header = new AoeHeader(MacAddress.Read(frame), MacAddress.Read(frame[6..]), (flags & ResponseFlag) != 0, error,
            BinaryPrimitives.ReadUInt16BigEndian(frame[16..]), frame[18], (AoeCommand)frame[19], BinaryPrimitives.ReadUInt32BigEndian(frame[20..]));
        return true;
    }
}

/// <summary>The Query Config header: what a target says about itself, or what an initiator asks.</summary>
public sealed record AoeConfig(ushort BufferCount, ushort FirmwareVersion, byte SectorCount, byte AoeVersion, byte ConfigCommand, byte[] ConfigString)
{
    /// <summary>The plain "read config" query an initiator broadcasts to find targets.</summary>
    public static AoeConfig ReadQuery { get; } = new(0, 0, 0, AoeProtocol.Version, 0, []);

    public int Write(Span<byte> frame)
    {
        var body = frame[AoeProtocol.HeaderLength..];
        BinaryPrimitives.WriteUInt16BigEndian(body, BufferCount);
        BinaryPrimitives.WriteUInt16BigEndian(body[2..], FirmwareVersion);
        body[4] = SectorCount;
        body[5] = (byte)(AoeVersion << 4 | ConfigCommand & 0x0F);
        BinaryPrimitives.WriteUInt16BigEndian(body[6..], (ushort)ConfigString.Length);
        ConfigString.CopyTo(body[8..]);
        return Math.Max(AoeProtocol.MinimumFrameLength, AoeProtocol.ConfigFrameHeaderLength + ConfigString.Length);
    }

    public static AoeConfig Read(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < AoeProtocol.ConfigFrameHeaderLength)
            throw new InvalidDataException($"A Query Config frame needs {AoeProtocol.ConfigFrameHeaderLength} bytes; got {frame.Length}.");
        var body = frame[AoeProtocol.HeaderLength..];
        var length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(body[6..]), body.Length - 8);
        return new AoeConfig(BinaryPrimitives.ReadUInt16BigEndian(body), BinaryPrimitives.ReadUInt16BigEndian(body[2..]), body[4],
            (byte)(body[5] >> 4), (byte)(body[5] & 0x0F), body.Slice(8, length).ToArray());
    }
}

[Flags]
public enum AtaFlags : byte
{
    None = 0,
    Write = 0x01,
    Asynchronous = 0x02,
    Device = 0x10,
    /// <summary>LBA48 addressing (the EXT commands).</summary>
    Extended = 0x40,
}

/// <summary>ATA commands the client issues.</summary>
public static class AtaCommand
{
    public const byte ReadSectorsExt = 0x24;
    public const byte WriteSectorsExt = 0x34;
    public const byte IdentifyDevice = 0xEC;
}

/// <summary>The ATA header of an AoE frame: the task-file registers of one command or of its result.</summary>
public readonly record struct AtaHeader(AtaFlags Flags, byte ErrorOrFeature, byte SectorCount, byte CommandOrStatus, long Lba)
{
    public const byte StatusError = 0x01;
    public const byte StatusDeviceFault = 0x20;
    public const byte ErrorAborted = 0x04;
    public const byte ErrorIdNotFound = 0x10;
    public const long MaxLba48 = (1L << 48) - 1;

    /// <summary>The status register of a response says the command failed.</summary>
    public bool Failed => (CommandOrStatus & (StatusError | StatusDeviceFault)) != 0;

    public void Write(Span<byte> frame)
    {
        var body = frame[AoeProtocol.HeaderLength..];
        body[0] = (byte)Flags;
        body[1] = ErrorOrFeature;
        body[2] = SectorCount;
        body[3] = CommandOrStatus;
        for (var i = 0; i < 6; i++)
            body[4 + i] = (byte)(Lba >> (8 * i));
        body[10] = 0;
        body[11] = 0;
    }

    public static AtaHeader Read(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < AoeProtocol.AtaFrameHeaderLength)
            throw new InvalidDataException($"An ATA frame needs {AoeProtocol.AtaFrameHeaderLength} bytes; got {frame.Length}.");
        var body = frame[AoeProtocol.HeaderLength..];
        long lba = 0;
        for (var i = 0; i < 6; i++)
            lba |= (long)body[4 + i] << (8 * i);
        return new AtaHeader((AtaFlags)body[0], body[1], body[2], body[3], lba);
    }

    public static AtaHeader Identify { get; } = new(AtaFlags.None, 0, 1, AtaCommand.IdentifyDevice, 0);

    public static AtaHeader Read48(long lba, int sectors) => new(AtaFlags.Extended, 0, checked((byte)sectors), AtaCommand.ReadSectorsExt, lba);

    public static AtaHeader Write48(long lba, int sectors) =>
        new(AtaFlags.Extended | AtaFlags.Write, 0, checked((byte)sectors), AtaCommand.WriteSectorsExt, lba);
}
