using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Bench;

/// <summary>
/// Byte-for-byte equality of two sparse files without reading their common holes: the bytes inside the union of
/// both files' data extents are compared; outside it both files are holes, which read as zeroes in each.
/// </summary>
internal static class ExtentComparer
{
    private const int BufferSize = 8 << 20;

    public static bool Equal(string first, string second)
    {
        using var a = File.OpenHandle(first);
        using var b = File.OpenHandle(second);
        var length = RandomAccess.GetLength(a);
        if (length != RandomAccess.GetLength(b))
            return false;
        var ranges = Union(SparseFile.DataExtents(a, length).Concat(SparseFile.DataExtents(b, length)));
        var (left, right) = (new byte[BufferSize], new byte[BufferSize]);
        return ranges.All(range => RangeEqual(a, b, range, left, right));
    }

    /// <summary>How many data extents SEEK_DATA/SEEK_HOLE find in a file.</summary>
    public static int DataExtentCount(string path)
    {
        using var handle = File.OpenHandle(path);
        return SparseFile.DataExtents(handle, RandomAccess.GetLength(handle)).Count();
    }

    private static List<SparseFile.Extent> Union(IEnumerable<SparseFile.Extent> extents)
    {
        var merged = new List<SparseFile.Extent>();
        foreach (var extent in extents.OrderBy(e => e.Offset))
            if (merged.Count > 0 && extent.Offset <= merged[^1].End)
                merged[^1] = merged[^1] with { Length = Math.Max(merged[^1].End, extent.End) - merged[^1].Offset };
            else
                merged.Add(extent);
        return merged;
    }

    private static bool RangeEqual(SafeFileHandle a, SafeFileHandle b, SparseFile.Extent range, byte[] left, byte[] right)
    {
        for (var offset = range.Offset; offset < range.End;)
        {
            var count = (int)Math.Min(BufferSize, range.End - offset);
            var read = RandomAccess.Read(a, left.AsSpan(0, count), offset);
            if (read == 0 || RandomAccess.Read(b, right.AsSpan(0, read), offset) != read)
                return false;
            if (!left.AsSpan(0, read).SequenceEqual(right.AsSpan(0, read)))
                return false;
            offset += read;
        }
        return true;
    }
}
