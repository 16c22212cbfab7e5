namespace SparseStorage.Bench;

/// <summary>Empties the kernel's page, dentry and inode caches (root only) so a run reads from the disk.</summary>
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
}
