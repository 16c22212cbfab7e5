namespace SparseStorage.Core.Processes;

/// <summary>Finds tools on PATH (and the sbin directories, which a non-login root shell may lack) and names the package for a missing one.</summary>
public sealed class ToolLocator(IEnumerable<string> searchDirectories)
{
    private static readonly string[] ExtraDirectories = ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin"];

    /// <summary>The Debian package that provides each tool the module may call.</summary>
    public static readonly IReadOnlyDictionary<string, string> Packages = new Dictionary<string, string>
    {
        ["qemu-img"] = "qemu-utils",
        ["rbd"] = "ceph-common",
        ["ceph"] = "ceph-common",
        ["qemu-storage-daemon"] = "qemu-system-common",
        ["losetup"] = "mount",
        ["mount"] = "mount",
        ["umount"] = "mount",
        ["blkid"] = "util-linux",
        ["mkswap"] = "util-linux",
        ["fsfreeze"] = "util-linux",
        ["fstrim"] = "util-linux",
        ["swaplabel"] = "util-linux",
        ["blockdev"] = "util-linux",
        ["sync"] = "coreutils",
        ["xfs_info"] = "xfsprogs",
        ["mkfs.ext2"] = "e2fsprogs",
        ["mkfs.ext3"] = "e2fsprogs",
        ["mkfs.ext4"] = "e2fsprogs",
        ["e2fsck"] = "e2fsprogs",
        ["resize2fs"] = "e2fsprogs",
        ["dumpe2fs"] = "e2fsprogs",
        ["mkfs.xfs"] = "xfsprogs",
        ["xfs_growfs"] = "xfsprogs",
        ["xfs_repair"] = "xfsprogs",
        ["mkfs.btrfs"] = "btrfs-progs",
        ["btrfs"] = "btrfs-progs",
        ["cryptsetup"] = "cryptsetup-bin",
        ["vblade"] = "vblade",
        ["aoeping"] = "aoetools",
        ["zstd"] = "zstd",
        ["tar"] = "tar",
        ["qemu-io"] = "qemu-utils",
        ["debugfs"] = "e2fsprogs",
        ["lzop"] = "lzop",
        ["rsync"] = "rsync",
        ["fusermount3"] = "fuse3",
        ["ip"] = "iproute2",
        ["start-stop-daemon"] = "dpkg",
        ["pvcreate"] = "lvm2",
        ["vgcreate"] = "lvm2",
        ["vgextend"] = "lvm2",
        ["vgs"] = "lvm2",
        ["pvs"] = "lvm2",
        ["lvs"] = "lvm2",
        ["lvcreate"] = "lvm2",
        ["lvextend"] = "lvm2",
        ["aoe-discover"] = "aoetools",
    };

    public static ToolLocator Default { get; } = new(
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(ExtraDirectories));

    private readonly string[] directories = searchDirectories.Distinct().ToArray();

    public string? TryLocate(string tool)
    {
        if (Path.IsPathRooted(tool))
            return File.Exists(tool) ? tool : null;
        return directories.Select(d => Path.Combine(d, tool)).FirstOrDefault(IsExecutable);
    }

    /// <exception cref="MissingToolException">The tool is not installed.</exception>
    public string Locate(string tool) =>
        TryLocate(tool) ?? throw new MissingToolException(tool, PackageFor(tool));

    public static string PackageFor(string tool) => Packages.TryGetValue(tool, out var package) ? package : tool;

    private static bool IsExecutable(string path) =>
        File.Exists(path) && (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
}
