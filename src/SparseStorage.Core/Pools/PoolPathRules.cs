using SparseStorage.Core.Host;

namespace SparseStorage.Core.Pools;

/// <summary>
/// Which directories may be pools. Volumes are created, overwritten, wiped and removed in a pool as root, so a pool
/// must be a directory of its own on a real filesystem: never the root, never in a tree the system lives in
/// (/etc, /usr, /boot, /proc, /sys, /dev, /run, /bin, /sbin, /lib*), never one of the shared top directories itself
/// (/home, /tmp, /var, /var/lib, /srv, /mnt, …; a directory below them is fine), and never on a pseudo-filesystem
/// (proc, sysfs, devtmpfs, cgroup, …). The path is checked after resolving links.
/// </summary>
public static class PoolPathRules
{
    private static readonly string[] SystemTrees = ["/bin", "/boot", "/dev", "/etc", "/proc", "/run", "/sbin", "/sys", "/usr"];

    private static readonly HashSet<string> SharedDirectories = new(StringComparer.Ordinal)
    {
        "/", "/home", "/media", "/mnt", "/opt", "/root", "/srv", "/tmp", "/var", "/var/cache", "/var/lib", "/var/log", "/var/spool", "/var/tmp",
    };

    private static readonly HashSet<string> PseudoFileSystems = new(StringComparer.Ordinal)
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs", "efivarfs", "fusectl",
        "hugetlbfs", "mqueue", "nsfs", "proc", "pstore", "rpc_pipefs", "securityfs", "selinuxfs", "sysfs", "tracefs",
    };

    /// <summary>Why <paramref name="resolvedPath"/> (links already resolved) may not be a pool, or null when it may.</summary>
    public static string? Refusal(string resolvedPath, IReadOnlyList<MountEntry> mounts)
    {
        if (SharedDirectories.Contains(resolvedPath))
            return resolvedPath == "/"
                ? "it is the root directory, which holds the whole system"
                : $"{resolvedPath} itself is a shared system directory; use a directory of its own below it (e.g. {resolvedPath.TrimEnd('/')}/sparse)";
        if (SystemTrees.FirstOrDefault(tree => MountTable.IsUnder(resolvedPath, tree)) is { } system)
            return $"it lies in {system}, which belongs to the system and never holds volumes";
        if (IsLibraryTree(resolvedPath))
            return "it lies in a system library directory";
        if (MountTable.Containing(mounts, resolvedPath) is { } mount && PseudoFileSystems.Contains(mount.FileSystemType))
            return $"it lies on {mount.MountPoint}, a {mount.FileSystemType} pseudo-filesystem that holds no files of its own";
        return null;
    }

    /// <summary>Throws <see cref="UnsafePoolPathException"/> when <paramref name="resolvedPath"/> may not be a pool.</summary>
    public static void Require(string poolName, string resolvedPath, IReadOnlyList<MountEntry> mounts)
    {
        if (Refusal(resolvedPath, mounts) is { } why)
            throw new UnsafePoolPathException($"'{resolvedPath}' cannot be pool '{poolName}': {why}.", resolvedPath);
    }

    /// <summary>/lib, /lib64, /lib32, /libx32 and anything below them.</summary>
    private static bool IsLibraryTree(string path)
    {
        var top = path.Split('/', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        return top.StartsWith("lib", StringComparison.Ordinal);
    }
}
