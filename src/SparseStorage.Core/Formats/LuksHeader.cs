using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace SparseStorage.Core.Formats;

/// <summary>The identity of a LUKS1 or LUKS2 container, read from its header (cryptsetup docs: LUKS1 On-Disk Format, LUKS2 On-Disk Format).</summary>
public sealed record LuksHeader(int Version, string Uuid, string Cipher, int ActiveKeySlots, long PayloadOffset)
{
    private static readonly byte[] Magic = [(byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xBA, 0xBE];
    private const uint Luks1SlotActive = 0x00AC71F3;

    /// <summary>Bytes to read from the start of the device to parse either version (LUKS2 keeps JSON after 4 KiB).</summary>
    public const int ReadSize = 64 * 1024;

    public static bool HasMagic(ReadOnlySpan<byte> start) => start.Length >= 8 && start[..6].SequenceEqual(Magic);

    public static LuksHeader Parse(ReadOnlySpan<byte> data)
    {
        if (!HasMagic(data))
            throw new InvalidDataException("not a LUKS container (no LUKS magic)");
        var version = BinaryPrimitives.ReadUInt16BigEndian(data[6..]);
        return version switch
        {
            1 => ParseVersion1(data),
            2 => ParseVersion2(data),
            _ => throw new InvalidDataException($"unsupported LUKS version {version}"),
        };
    }

    private static LuksHeader ParseVersion1(ReadOnlySpan<byte> data)
    {
        var activeSlots = 0;
        for (var slot = 0; slot < 8; slot++)
            if (BinaryPrimitives.ReadUInt32BigEndian(data[(208 + slot * 48)..]) == Luks1SlotActive)
                activeSlots++;
        var cipher = $"{Text(data.Slice(8, 32))}-{Text(data.Slice(40, 32))}";
        return new LuksHeader(1, Text(data.Slice(168, 40)), cipher, activeSlots,
            BinaryPrimitives.ReadUInt32BigEndian(data[104..]) * 512L);
    }

    private static LuksHeader ParseVersion2(ReadOnlySpan<byte> data)
    {
        var headerSize = (long)BinaryPrimitives.ReadUInt64BigEndian(data[8..]);
        var jsonEnd = (int)Math.Min(headerSize, data.Length);
        if (jsonEnd <= 4096)
            throw new InvalidDataException("LUKS2 header is truncated before its JSON area");
        var json = Text(data[4096..jsonEnd]);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var segment = root.GetProperty("segments").EnumerateObject().First().Value;
        var offset = long.Parse(segment.GetProperty("offset").GetString() ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        return new LuksHeader(2, Text(data.Slice(168, 40)), segment.GetProperty("encryption").GetString() ?? "",
            root.GetProperty("keyslots").EnumerateObject().Count(), offset);
    }

    private static string Text(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }
}
