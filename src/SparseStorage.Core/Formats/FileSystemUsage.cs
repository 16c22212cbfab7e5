using System.Buffers.Binary;

namespace SparseStorage.Core.Formats;

/// <summary>
/// The space a filesystem uses, read from its superblock without starting a process: ext2/3/4 as the block count
/// less the free block count (with their 64-bit high halves), btrfs as its bytes_used. Both are at most what
/// resize2fs -P and btrfs inspect-internal min-dev-size report (those add the metadata a smaller filesystem still
/// needs), so a plan that refuses a shrink below this refuses only what the run would refuse too.
/// </summary>
public static class FileSystemUsage
{
    private const int ExtSuperblock = 1024;
    private const int BtrfsSuperblock = 0x10000;
    private const uint ExtIncompat64Bit = 0x80;
    private const int MaxExtLogBlockSize = 6;

    /// <summary>
    /// The bytes used by the filesystem whose first bytes are <paramref name="data"/> (as much as
    /// <see cref="FileSystemSignature.ProbeLength"/> for btrfs); null for one whose usage is not read here (xfs, swap,
    /// none). A superblock whose counts contradict each other is an <see cref="InvalidDataException"/>.
    /// </summary>
    public static long? UsedBytes(ReadOnlySpan<byte> data) =>
        FileSystemSignature.Detect(data).Type switch
        {
            FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4 => Ext(data.Slice(ExtSuperblock, 1024)),
            FileSystemType.Btrfs => Btrfs(HeaderField.Slice(data, BtrfsSuperblock, 0x100, "btrfs superblock")),
            _ => null,
        };

    private static long Ext(ReadOnlySpan<byte> sb)
    {
        var logBlockSize = (int)HeaderField.InRange("ext superblock log block size", BinaryPrimitives.ReadUInt32LittleEndian(sb[0x18..]), 0, MaxExtLogBlockSize);
        var blockSize = 1024UL << logBlockSize;
        var wide = (BinaryPrimitives.ReadUInt32LittleEndian(sb[0x60..]) & ExtIncompat64Bit) != 0;
        var blocks = Wide(sb, 0x04, 0x150, wide);
        var free = Wide(sb, 0x0C, 0x158, wide);
        HeaderField.InRange("ext superblock block count", blocks, 0, long.MaxValue / blockSize);
        HeaderField.InRange("ext superblock free block count", free, 0, blocks);
        return (long)((blocks - free) * blockSize);
    }

    /// <summary>A 32-bit count, widened by its high half where the 64bit feature is on.</summary>
    private static ulong Wide(ReadOnlySpan<byte> sb, int low, int high, bool wide) =>
        BinaryPrimitives.ReadUInt32LittleEndian(sb[low..]) | (wide ? (ulong)BinaryPrimitives.ReadUInt32LittleEndian(sb[high..]) << 32 : 0);

    private static long Btrfs(ReadOnlySpan<byte> sb)
    {
        var total = HeaderField.InRange("btrfs superblock total bytes", BinaryPrimitives.ReadUInt64LittleEndian(sb[0x70..]), 0, long.MaxValue);
        return (long)HeaderField.InRange("btrfs superblock bytes used", BinaryPrimitives.ReadUInt64LittleEndian(sb[0x78..]), 0, total);
    }
}
