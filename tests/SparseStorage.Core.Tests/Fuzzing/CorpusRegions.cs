using System.Buffers.Binary;
using SparseStorage.Core.Formats;

namespace SparseStorage.Core.Tests.Fuzzing;

/// <summary>
/// Where an image's readers look, found from the (valid) original: the first KiB of qcow2 and LUKS images, the
/// LUKS2 JSON area, for qcow2 the L1 table, first L2 table, snapshot table and embedded LUKS header, and the numeric
/// fields of xfs, ext, btrfs and swap superblocks.
/// </summary>
public static class CorpusRegions
{
    public static IReadOnlyList<FieldRegion> Of(byte[] image)
    {
        var regions = new List<FieldRegion>();
        var head = image.AsSpan(0, Math.Min(image.Length, FileSystemSignature.ProbeLength));
        if (Qcow2Header.HasMagic(head) || LuksHeader.HasMagic(head))
            regions.Add(new("header", 0, 1024, BigEndian: true));
        if (LuksHeader.HasMagic(head) && head[7] == 2)
            regions.Add(new("LUKS2 JSON", 4096, 12288, BigEndian: true));
        if (Qcow2Header.HasMagic(head))
            regions.AddRange(Qcow2Regions(Qcow2Header.Parse(head[..Math.Min(head.Length, 4096)]), image));
        regions.AddRange(FileSystemSignature.Detect(head).Type switch
        {
            FileSystemType.Xfs => [new("xfs superblock", 0, 256, BigEndian: true)],
            FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4 => [new("ext superblock", 1024, 0x160, BigEndian: false)],
            FileSystemType.Btrfs => [new("btrfs superblock", 0x10000, 0x100, BigEndian: false)],
            FileSystemType.Swap => [new("swap header", 1024, 64, BigEndian: false)],
            _ => regions.Count == 0 ? [new("start", 0, 1024, BigEndian: false)] : [],
        });
        return regions.Where(r => r.End <= image.Length).ToList();
    }

    private static IEnumerable<FieldRegion> Qcow2Regions(Qcow2Header header, byte[] image)
    {
        yield return new("qcow2 L1 table", (int)header.L1TableOffset, 64, BigEndian: true);
        var l2 = (int)(BinaryPrimitives.ReadUInt64BigEndian(image.AsSpan((int)header.L1TableOffset)) & 0x00FFFFFFFFFFFE00UL);
        if (l2 != 0)
            yield return new("qcow2 L2 table", l2, 64, BigEndian: true);
        if (header.SnapshotCount > 0)
            yield return new("qcow2 snapshot table", (int)header.SnapshotsOffset, 256, BigEndian: true);
        if (header.CryptoHeaderLength > 0)
            yield return new("qcow2 LUKS header", (int)header.CryptoHeaderOffset, 1024, BigEndian: true);
    }
}
