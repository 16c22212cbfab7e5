using System.Buffers.Binary;
using System.Text;

namespace SparseStorage.Core.Formats;

/// <summary>
/// The identity of a LUKS1 or LUKS2 container, read from its header (cryptsetup docs: LUKS1 On-Disk Format, LUKS2
/// On-Disk Format). Key slot areas must lie inside the container, before its payload, so that erasing
/// [0, <see cref="PayloadOffset"/>) destroys every key slot; a header that breaks this is refused.
/// </summary>
public sealed record LuksHeader(int Version, string Uuid, string Cipher, int ActiveKeySlots, long PayloadOffset)
{
    private static readonly byte[] Magic = [(byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xBA, 0xBE];
    private const int Luks1HeaderLength = 592;
    private const int Luks1KeySlots = 8;
    private const uint Luks1SlotActive = 0x00AC71F3;
    private const uint Luks1SlotDisabled = 0x0000DEAD;
    private const uint Luks1Stripes = 4000;
    private const uint MaxKeyBytes = 512;
    private const int Sector = 512;

    /// <summary>Bytes to read from the start of the device to parse either version (LUKS2 keeps JSON after 4 KiB).</summary>
    public const int ReadSize = 64 * 1024;

    public static bool HasMagic(ReadOnlySpan<byte> start) => start.Length >= 8 && start[..6].SequenceEqual(Magic);

    /// <summary>Parses the header; <paramref name="containerLength"/>, when known, bounds the payload offset.</summary>
    public static LuksHeader Parse(ReadOnlySpan<byte> data, long containerLength = long.MaxValue)
    {
        if (!HasMagic(data))
            throw new InvalidDataException("not a LUKS container (no LUKS magic)");
        var version = BinaryPrimitives.ReadUInt16BigEndian(data[6..]);
        var header = version switch
        {
            1 => ParseVersion1(data),
            2 => Luks2Metadata.Parse(data),
            _ => throw new InvalidDataException($"unsupported LUKS version {version}"),
        };
        HeaderField.Require(header.PayloadOffset <= containerLength,
            $"LUKS{version} payload offset {header.PayloadOffset} lies beyond the end of the container ({containerLength} bytes)");
        return header;
    }

    /// <summary>LUKS1 with cryptsetup's key slot checks (lib/luks1/keymanage.c, LUKS_check_keyslots).</summary>
    private static LuksHeader ParseVersion1(ReadOnlySpan<byte> data)
    {
        HeaderField.Require(data.Length >= Luks1HeaderLength, $"LUKS1 header is cut short ({data.Length} of {Luks1HeaderLength} bytes)");
        var payloadSectors = HeaderField.InRange("LUKS1 payload offset", BinaryPrimitives.ReadUInt32BigEndian(data[104..]), 1, uint.MaxValue);
        var keyBytes = HeaderField.InRange("LUKS1 key bytes", BinaryPrimitives.ReadUInt32BigEndian(data[108..]), 1, MaxKeyBytes);
        var slotSectors = (keyBytes * Luks1Stripes + Sector - 1) / Sector;
        var activeSlots = 0;
        var areas = new List<(ulong Start, int Slot)>(Luks1KeySlots);
        for (var slot = 0; slot < Luks1KeySlots; slot++)
        {
            var fields = data[(208 + slot * 48)..];
            var state = BinaryPrimitives.ReadUInt32BigEndian(fields);
            HeaderField.Require(state is Luks1SlotActive or Luks1SlotDisabled, $"LUKS1 key slot {slot} state 0x{state:X8} is neither active nor disabled");
            HeaderField.InRange($"LUKS1 key slot {slot} stripes", BinaryPrimitives.ReadUInt32BigEndian(fields[44..]), Luks1Stripes, Luks1Stripes);
            var start = HeaderField.InRange($"LUKS1 key slot {slot} key material offset", BinaryPrimitives.ReadUInt32BigEndian(fields[40..]),
                (Luks1HeaderLength + Sector - 1) / Sector, payloadSectors - 1);
            HeaderField.Require(start + slotSectors <= payloadSectors, $"LUKS1 key slot {slot} key material runs past the payload offset {payloadSectors * Sector}");
            areas.Add((start, slot));
            if (state == Luks1SlotActive)
                activeSlots++;
        }
        RequireDisjoint(areas, slotSectors);
        var cipher = $"{Text(data.Slice(8, 32))}-{Text(data.Slice(40, 32))}";
        return new LuksHeader(1, Text(data.Slice(168, 40)), cipher, activeSlots, (long)payloadSectors * Sector);
    }

    private static void RequireDisjoint(List<(ulong Start, int Slot)> areas, ulong length)
    {
        areas.Sort();
        for (var i = 1; i < areas.Count; i++)
            HeaderField.Require(areas[i].Start >= areas[i - 1].Start + length, $"LUKS1 key slot {areas[i - 1].Slot} overlaps key slot {areas[i].Slot}");
    }

    /// <summary>A NUL-terminated text field; bytes that are not UTF-8 read as replacement characters.</summary>
    internal static string Text(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }
}
