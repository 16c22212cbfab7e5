using Microsoft.Win32.SafeHandles;

namespace SparseStorage.Core.Native;

/// <summary>File operations that keep holes: allocated-extent walking (SEEK_DATA/SEEK_HOLE) and preallocation.</summary>
public static class SparseFile
{
    public readonly record struct Extent(long Offset, long Length)
    {
        public long End => Offset + Length;
    }

    /// <summary>The file's data extents in order; holes are skipped without reading them.</summary>
    public static IEnumerable<Extent> DataExtents(SafeFileHandle handle, long length)
    {
        long position = 0;
        while (position < length)
        {
            var start = Libc.lseek(handle, position, Libc.SEEK_DATA);
            if (start < 0)
                yield break; // ENXIO: no data after position
            var end = Libc.lseek(handle, start, Libc.SEEK_HOLE);
            if (end < 0)
                end = length;
            end = Math.Min(end, length);
            yield return new Extent(start, end - start);
            position = end;
        }
    }

    /// <summary>Reserves blocks for the whole file (fallocate mode 0), so later writes cannot fail for lack of space.</summary>
    public static void Preallocate(SafeFileHandle handle, long length, string pathForErrors)
    {
        FileSpace.Reserve(handle, 0, length, pathForErrors);
    }
}
