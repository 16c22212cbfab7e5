using System.Buffers.Binary;
using System.Text;

namespace SparseStorage.Core.Formats;

/// <summary>
/// Recognises a filesystem from its superblock magic, read natively (no blkid process per volume).
/// Offsets: ext2/3/4 superblock at 1 KiB (magic 0xEF53 at +56), xfs "XFSB" at 0, btrfs "_BHRfS_M" at 64 KiB + 64,
/// swap "SWAPSPACE2" at the end of the first 4 KiB page.
/// </summary>
public sealed record FileSystemSignature(FileSystemType Type, string? Label, long SizeBytes)
{
    /// <summary>How many leading bytes <see cref="Detect"/> needs: up to the end of the btrfs superblock.</summary>
    public const int ProbeLength = 0x10000 + 0x1000;

    public static FileSystemSignature Blank { get; } = new(FileSystemType.None, null, 0);

    /// <summary>The filesystem's allocation unit (ext: 1–64 KiB, xfs: its block size); 0 when unknown.</summary>
    public int BlockSize { get; init; }

    /// <summary>Reads the signature at the start of a file or block device.</summary>
    public static FileSystemSignature Read(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var head = new byte[ProbeLength];
        var read = RandomAccess.Read(handle, head, 0);
        return Detect(head.AsSpan(0, read));
    }

    private const int ExtSuperblock = 1024;
    private const int BtrfsSuperblock = 0x10000;
    private const uint ExtCompatHasJournal = 0x4;
    private const uint ExtIncompatExtents = 0x40;
    private const uint ExtIncompat64Bit = 0x80;
    private const uint ExtIncompatFlexBg = 0x200;

    /// <summary>
    /// Detects the filesystem in <paramref name="data"/>, the volume's first bytes; zeros mean None, anything else
    /// Unknown. A recognised superblock whose sizes are out of range is an <see cref="InvalidDataException"/>.
    /// </summary>
    public static FileSystemSignature Detect(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 4 && data[..4].SequenceEqual("XFSB"u8))
            return Xfs(data);
        if (data.Length >= ExtSuperblock + 1024 && BinaryPrimitives.ReadUInt16LittleEndian(data[(ExtSuperblock + 56)..]) == 0xEF53)
            return Ext(data[ExtSuperblock..]);
        if (data.Length >= BtrfsSuperblock + 0x22b + 256 && data.Slice(BtrfsSuperblock + 0x40, 8).SequenceEqual("_BHRfS_M"u8))
            return Btrfs(data[BtrfsSuperblock..]);
        if (data.Length >= 4096 && data.Slice(4086, 10).SequenceEqual("SWAPSPACE2"u8))
            return Swap(data);
        var probed = data[..Math.Min(data.Length, ProbeLength)];
        return probed.ContainsAnyExcept((byte)0) ? new FileSystemSignature(FileSystemType.Unknown, null, 0) : Blank;
    }

    private const int MaxExtLogBlockSize = 6;  // 64 KiB blocks, e2fsprogs EXT2_MAX_BLOCK_LOG_SIZE
    private const int XfsSuperblockFields = 120;
    private const uint XfsMinBlockSize = 512;
    private const uint XfsMaxBlockSize = 65536;

    private static FileSystemSignature Ext(ReadOnlySpan<byte> sb)
    {
        var compat = BinaryPrimitives.ReadUInt32LittleEndian(sb[92..]);
        var incompat = BinaryPrimitives.ReadUInt32LittleEndian(sb[96..]);
        var type = (incompat & (ExtIncompatExtents | ExtIncompat64Bit | ExtIncompatFlexBg)) != 0 ? FileSystemType.Ext4
            : (compat & ExtCompatHasJournal) != 0 ? FileSystemType.Ext3
            : FileSystemType.Ext2;
        var logBlockSize = (int)HeaderField.InRange("ext superblock log block size", BinaryPrimitives.ReadUInt32LittleEndian(sb[24..]), 0, MaxExtLogBlockSize);
        var blockSize = 1024L << logBlockSize;
        var blocks = (ulong)BinaryPrimitives.ReadUInt32LittleEndian(sb[4..]);
        if ((incompat & ExtIncompat64Bit) != 0)
            blocks |= (ulong)BinaryPrimitives.ReadUInt32LittleEndian(sb[0x150..]) << 32;
        HeaderField.InRange("ext superblock block count", blocks, 0, (ulong)(long.MaxValue / blockSize));
        return new FileSystemSignature(type, Text(sb.Slice(120, 16)), (long)blocks * blockSize) { BlockSize = (int)blockSize };
    }

    private static FileSystemSignature Xfs(ReadOnlySpan<byte> sb)
    {
        HeaderField.Require(sb.Length >= XfsSuperblockFields, $"xfs superblock is cut short ({sb.Length} of {XfsSuperblockFields} bytes)");
        var blockSize = (uint)HeaderField.InRange("xfs superblock block size", BinaryPrimitives.ReadUInt32BigEndian(sb[4..]), XfsMinBlockSize, XfsMaxBlockSize);
        HeaderField.Require(uint.IsPow2(blockSize), $"xfs superblock block size {blockSize} is not a power of two");
        var blocks = HeaderField.InRange("xfs superblock data block count", BinaryPrimitives.ReadUInt64BigEndian(sb[8..]), 0, (ulong)long.MaxValue / blockSize);
        return new FileSystemSignature(FileSystemType.Xfs, Text(sb.Slice(108, 12)), (long)blocks * blockSize) { BlockSize = (int)blockSize };
    }

    private static FileSystemSignature Btrfs(ReadOnlySpan<byte> sb) =>
        new(FileSystemType.Btrfs, Text(sb.Slice(0x12b, 256)),
            (long)HeaderField.InRange("btrfs superblock total bytes", BinaryPrimitives.ReadUInt64LittleEndian(sb[0x70..]), 0, long.MaxValue));

    private static FileSystemSignature Swap(ReadOnlySpan<byte> page)
    {
        var lastPage = BinaryPrimitives.ReadUInt32LittleEndian(page[1028..]);
        return new FileSystemSignature(FileSystemType.Swap, Text(page.Slice(1052, 16)), (lastPage + 1L) * 4096);
    }

    private static string? Text(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        var text = Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
        return text.Length == 0 ? null : text;
    }
}
