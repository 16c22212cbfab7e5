using System.Buffers.Binary;

namespace SparseStorage.Core.Formats;

/// <summary>
/// Reads a few guest bytes of a qcow2 image through its L1/L2 tables, enough to find a filesystem's magic
/// without starting qemu. Compressed clusters, backing files, external data files (never opened here: they may lie
/// outside the pool) and extended L2 entries are not followed: the caller gets false. Table entries that point at
/// unaligned offsets mark the image corrupt, as qemu does.
/// </summary>
internal sealed class Qcow2GuestReader(Microsoft.Win32.SafeHandles.SafeFileHandle image, Qcow2Header header)
{
    private const ulong OffsetMask = 0x00FFFFFFFFFFFE00UL;
    private const ulong CompressedFlag = 1UL << 62;
    private const ulong ZeroFlag = 1UL;

    /// <summary>Fills <paramref name="buffer"/> from guest offset; false when a cluster cannot be read natively.</summary>
    public bool TryRead(long guestOffset, Span<byte> buffer)
    {
        if (header.HasExternalDataFile || header.HasExtendedL2 || header.ClusterBits is < Qcow2Header.MinClusterBits or > Qcow2Header.MaxClusterBits
            || guestOffset < 0 || guestOffset > header.VirtualSize - buffer.Length)
            return false;
        var done = 0;
        // Each pass copies at least one byte (the rest of a cluster), so the loop ends after buffer.Length passes at most.
        while (done < buffer.Length)
        {
            var offset = guestOffset + done;
            var inCluster = (int)(offset & (header.ClusterSize - 1));
            var chunk = Math.Min(buffer.Length - done, (int)header.ClusterSize - inCluster);
            var hostCluster = HostClusterOf(offset);
            if (hostCluster is null)
                return false;
            var target = buffer.Slice(done, chunk);
            if (hostCluster == 0)
                target.Clear();
            else if (RandomAccess.Read(image, target, hostCluster.Value + inCluster) != chunk)
                return false;
            done += chunk;
        }
        return true;
    }

    /// <summary>Host offset of the cluster holding guest offset; 0 for a cluster that reads as zeros; null if unreadable here.</summary>
    private long? HostClusterOf(long guestOffset)
    {
        var l2Entries = header.ClusterSize / 8;
        var clusterIndex = guestOffset >> header.ClusterBits;
        var l1Index = clusterIndex / l2Entries;
        if (l1Index >= header.L1Size)
            return 0;
        var l2Table = Aligned(ReadEntry(header.L1TableOffset + l1Index * 8) & OffsetMask, "L1 entry", "L2 table");
        if (l2Table == 0)
            return header.BackingFile is null ? 0 : null;
        var l2Entry = ReadEntry(l2Table + clusterIndex % l2Entries * 8);
        if ((l2Entry & CompressedFlag) != 0)
            return null;
        if ((l2Entry & ZeroFlag) != 0)
            return 0;
        var host = Aligned(l2Entry & OffsetMask, "L2 entry", "data cluster");
        return host == 0 && header.BackingFile is not null ? null : host;
    }

    private long Aligned(ulong offset, string entry, string target)
    {
        HeaderField.Require(offset % (ulong)header.ClusterSize == 0, $"qcow2 {entry} points at {target} offset {offset}, not a multiple of the cluster size {header.ClusterSize}");
        return (long)offset;
    }

    private ulong ReadEntry(long position)
    {
        Span<byte> entry = stackalloc byte[8];
        return RandomAccess.Read(image, entry, position) == 8 ? BinaryPrimitives.ReadUInt64BigEndian(entry) : 0;
    }
}
