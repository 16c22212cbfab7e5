using SparseStorage.Core.Native;

namespace SparseStorage.Bench;

/// <summary>Empties the kernel's page, dentry and inode caches (root only) so a run reads from the disk, or fills them with one file's data.</summary>
internal static class PageCache
{
    public static bool Drop()
    {
        Shell.Run("sync");
        try
        {
            File.WriteAllText("/proc/sys/vm/drop_caches", "3\n");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Reads a file's data extents (not its holes) so that they are in the page cache; returns the bytes read.</summary>
    public static long Load(string path)
    {
        using var handle = File.OpenHandle(path);
        var buffer = GC.AllocateUninitializedArray<byte>(8 << 20);
        long total = 0;
        foreach (var extent in SparseFile.DataExtents(handle, RandomAccess.GetLength(handle)))
            for (var offset = extent.Offset; offset < extent.End;)
            {
                var read = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, extent.End - offset)), offset);
                if (read == 0)
                    break;
                offset += read;
                total += read;
            }
        return total;
    }

    /// <summary>Cold: sync and drop the page cache. Warm: sync and read the files' data extents into the cache.</summary>
    public static void Prepare(bool cold, params string[] files)
    {
        if (cold && !Drop())
            throw new InvalidOperationException("cannot drop the page cache (/proc/sys/vm/drop_caches): the benchmark needs root");
        if (!cold)
        {
            Shell.Run("sync");
            foreach (var file in files)
                Load(file);
        }
    }
}
