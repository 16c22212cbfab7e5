using SparseStorage.Core.Native;

namespace SparseStorage.Core.Host;

/// <summary>
/// Mounted loop devices whose backing file cannot be reached, as when the FUSE daemon under an unlocked volume dies.
/// mkfs.btrfs stats the backing file of every mounted loop device on the host and refuses to run while one fails.
/// </summary>
public static class UnreachableLoopMounts
{
    private const int ENOENT = 2;

    /// <summary>Each such loop device as "device on mount point (backing file path)".</summary>
    public static IReadOnlyList<string> Describe(IEnumerable<LoopDevice> loops, IEnumerable<MountEntry> mounts) =>
        (from loop in loops
         join mount in mounts on loop.DeviceNumber equals mount.DeviceNumber
         where !IsReachable(loop.BackingFile)
         select $"{loop.Device} on {mount.MountPoint} (backing file {loop.BackingFile})").Distinct().ToList();

    // A deleted backing file is no obstacle (mkfs.btrfs skips it too); any other failure, ENOTCONN above all, is.
    private static bool IsReachable(string path)
    {
        try
        {
            Libc.Stat(path);
            return true;
        }
        catch (IOException e)
        {
            return e.HResult == ENOENT;
        }
    }
}
