namespace SparseStorage.Bench;

/// <summary>
/// An xfs filesystem with reflink=1 on a sparse image file attached with losetup and mounted in the working
/// directory. Dispose unmounts it, detaches the loop device and deletes the image and the mount point — whatever
/// of that was set up, also when the setup failed half way.
/// </summary>
internal sealed class XfsLoopMount : IDisposable
{
    private readonly string image;
    private bool mounted;

    private XfsLoopMount(string image, string mountPoint)
    {
        this.image = image;
        MountPoint = mountPoint;
    }

    public string MountPoint { get; }
    public string? Device { get; private set; }

    public static XfsLoopMount Create(string directory, long size)
    {
        var xfs = new XfsLoopMount(Path.Combine(directory, "xfs.img"), Path.Combine(directory, "xfs-mnt"));
        try
        {
            xfs.Make(size);
            return xfs;
        }
        catch
        {
            xfs.Dispose();
            throw;
        }
    }

    /// <summary>The reflink and crc settings `xfs_info` reports, e.g. "crc=1 … reflink=1".</summary>
    public string Describe() =>
        string.Join(' ', Shell.Run("xfs_info", MountPoint).Split([' ', '\n', ','], StringSplitOptions.RemoveEmptyEntries)
            .Where(field => field.StartsWith("reflink=") || field.StartsWith("bsize=")).Distinct());

    private void Make(long size)
    {
        using (var file = new FileStream(image, FileMode.CreateNew, FileAccess.Write))
            file.SetLength(size);
        Shell.Run("mkfs.xfs", "-q", "-m", "reflink=1", image);
        Device = Shell.Run("losetup", "--find", "--show", image).Trim();
        Directory.CreateDirectory(MountPoint);
        Shell.Run("mount", "-t", "xfs", Device, MountPoint);
        mounted = true;
    }

    public void Dispose()
    {
        Step(Unmount);
        Step(() => { if (Device is not null) Shell.Run("losetup", "-d", Device); Device = null; });
        Step(() => { if (Directory.Exists(MountPoint)) Directory.Delete(MountPoint); });
        Step(() => File.Delete(image));
    }

    /// <summary>umount, or, when something still holds the filesystem, a lazy umount so that it is gone once released.</summary>
    private void Unmount()
    {
        if (!mounted)
            return;
        if (Shell.TryRun("umount", MountPoint).ExitCode != 0)
            Shell.Run("umount", "--lazy", MountPoint);
        mounted = false;
    }

    /// <summary>One clean-up step; a failure is reported and the next step still runs.</summary>
    private static void Step(Action step)
    {
        try
        {
            step();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"xfs clean-up: {e.Message}");
        }
    }
}
