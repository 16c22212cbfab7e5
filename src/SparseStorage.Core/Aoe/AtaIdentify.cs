using System.Buffers.Binary;
using System.Text;

namespace SparseStorage.Core.Aoe;

/// <summary>
/// The parts of the 512-byte ATA IDENTIFY DEVICE block the client uses (ATA/ATAPI-8, table 22). Strings hold two
/// characters a 16-bit little-endian word, the first in the high byte, so each pair of bytes is swapped.
/// </summary>
public sealed record AtaIdentify(string Serial, string FirmwareRevision, string Model, bool SupportsLba48, long Lba28Sectors, long Lba48Sectors)
{
    public const int Length = 512;

    /// <summary>The addressable sectors: the LBA48 count where the device supports it, else the LBA28 one.</summary>
    public long Sectors => SupportsLba48 && Lba48Sectors > 0 ? Lba48Sectors : Lba28Sectors;

    public static AtaIdentify Parse(ReadOnlySpan<byte> block)
    {
        if (block.Length < Length)
            throw new InvalidDataException($"An IDENTIFY block has {Length} bytes; got {block.Length}.");
        return new AtaIdentify(
            Serial: WordString(block, 10, 10),
            FirmwareRevision: WordString(block, 23, 4),
            Model: WordString(block, 27, 20),
            SupportsLba48: (Word(block, 83) & 0x0400) != 0,
            Lba28Sectors: BinaryPrimitives.ReadUInt32LittleEndian(block[(60 * 2)..]) & 0x0FFF_FFFF,
            Lba48Sectors: (long)(BinaryPrimitives.ReadUInt64LittleEndian(block[(100 * 2)..]) & AtaHeader.MaxLba48));
    }

    private static ushort Word(ReadOnlySpan<byte> block, int index) => BinaryPrimitives.ReadUInt16LittleEndian(block[(index * 2)..]);

    private static string WordString(ReadOnlySpan<byte> block, int firstWord, int words)
    {
        var text = new StringBuilder(words * 2);
        for (var i = 0; i < words; i++)
        {
            var word = Word(block, firstWord + i);
            text.Append((char)(word >> 8)).Append((char)(word & 0xFF));
        }
        return text.ToString().TrimEnd(' ', '\0');
    }
}
