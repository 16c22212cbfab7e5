using Microsoft.Win32.SafeHandles;

namespace SparseStorage.Core.Native;

/// <summary>One extent of a file as FIEMAP reports it: where its bytes are in the file and on the device.</summary>
public readonly record struct PhysicalExtent(long Logical, long Physical, long Length, uint Flags)
{
    public long End => Logical + Length;
}

/// <summary>
/// The physical block map of a file, read with the FS_IOC_FIEMAP ioctl (Documentation/filesystems/fiemap.rst).
/// Dirty data is written back first (FIEMAP_FLAG_SYNC), so delayed allocations have their final place.
/// </summary>
public static class PhysicalExtents
{
    public const uint Last = 0x1;
    public const uint Unknown = 0x2;
    public const uint DelayedAllocation = 0x4;
    public const uint Encoded = 0x8;
    public const uint DataEncrypted = 0x80;
    public const uint NotAligned = 0x100;
    public const uint DataInline = 0x200;
    public const uint DataTail = 0x400;
    public const uint Unwritten = 0x800;
    public const uint Merged = 0x1000;
    public const uint Shared = 0x2000;

    private const ulong FS_IOC_FIEMAP = 0xC020660B;
    private const uint FIEMAP_FLAG_SYNC = 0x1;
    private const int HeaderBytes = 32;
    private const int ExtentBytes = 56;
    private const int ExtentsPerCall = 1024;
    private const int ENOTTY = 25;
    private const int EOPNOTSUPP = 95;

    /// <summary>Every extent of the file in order; null when the filesystem has no FIEMAP.</summary>
    public static unsafe List<PhysicalExtent>? Read(SafeFileHandle file)
    {
        var extents = new List<PhysicalExtent>();
        var buffer = new byte[HeaderBytes + ExtentsPerCall * ExtentBytes];
        ulong start = 0;
        fixed (byte* map = buffer)
        {
            while (true)
            {
                Array.Clear(buffer);
                *(ulong*)map = start;              // fm_start
                *(ulong*)(map + 8) = ulong.MaxValue; // fm_length: to the end
                *(uint*)(map + 16) = FIEMAP_FLAG_SYNC;
                *(uint*)(map + 24) = ExtentsPerCall; // fm_extent_count
                if (Libc.ioctl(file, FS_IOC_FIEMAP, map) != 0)
                    return System.Runtime.InteropServices.Marshal.GetLastPInvokeError() is EOPNOTSUPP or ENOTTY ? null
                        : throw Libc.ErrnoException("FIEMAP");
                var mapped = *(uint*)(map + 20);
                if (mapped == 0)
                    return extents;
                for (var i = 0; i < mapped; i++)
                {
                    var extent = map + HeaderBytes + i * ExtentBytes;
                    extents.Add(new PhysicalExtent((long)*(ulong*)extent, (long)*(ulong*)(extent + 8), (long)*(ulong*)(extent + 16), *(uint*)(extent + 40)));
                }
                if ((extents[^1].Flags & Last) != 0)
                    return extents;
                start = (ulong)extents[^1].End;
            }
        }
    }
}
