namespace SparseStorage.Core.Aoe;

/// <summary>An AoE target seen on the wire: its address, what Query Config said of it, and its size from ATA IDENTIFY.</summary>
public sealed class AtaoeTarget
{
    public int Shelf { get; init; }
    public int Slot { get; init; }
    /// <summary>The local interface the target answered on.</summary>
    public required string Interface { get; init; }
    /// <summary>The target's Ethernet address (the exporting host's interface).</summary>
    public required string MacAddress { get; init; }
    public long SizeBytes => Sectors * 512;
    /// <summary>512-byte sectors the target offers (LBA48 count from IDENTIFY).</summary>
    public long Sectors { get; init; }
    /// <summary>The firmware revision from IDENTIFY (vblade: "V" and its version).</summary>
    public string FirmwareVersion { get; init; } = "";
    /// <summary>The firmware number from Query Config (vblade: 0x4000 plus its version).</summary>
    public int ConfigFirmware { get; init; }
    /// <summary>How many requests the target queues: the client keeps at most this many in flight.</summary>
    public int BufferCount { get; init; }
    /// <summary>Sectors one request may carry, as the target computed from its MTU.</summary>
    public int MaxSectorsPerRequest { get; init; }
    public int AoeVersion { get; init; }
    public string Model { get; init; } = "";
    public string Serial { get; init; } = "";
    /// <summary>The target's config string (empty unless an initiator set one).</summary>
    public string ConfigString { get; init; } = "";
    /// <summary>The block device the aoe driver makes of this target on a host that has it.</summary>
    public string DevicePath => $"/dev/etherd/e{Shelf}.{Slot}";

    public override string ToString() => $"e{Shelf}.{Slot}";
}
