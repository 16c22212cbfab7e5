using SparseStorage.Core.Host;

namespace SparseStorage.Core.Volumes;

/// <summary>A mount point must be an empty directory that is not already a mount point; a missing one is created by the mount.</summary>
public static class MountPointRules
{
    public sealed record CheckedMountPoint(string Path, bool Missing);

    /// <summary>Checks the mount point without changing anything: its resolved path, and whether it must be created.</summary>
    public static CheckedMountPoint Check(string mountPoint)
    {
        var path = System.IO.Path.GetFullPath(mountPoint);
        if (File.Exists(path))
            throw new InvalidStorageArgumentException("MountPointNotDirectory", $"The mount point '{path}' is a file, not a directory.", path);
        if (!Directory.Exists(path))
        {
            if (!Directory.Exists(System.IO.Path.GetDirectoryName(path)))
                throw new InvalidStorageArgumentException("MountPointParentMissing", $"The parent directory of mount point '{path}' does not exist.", path);
            return new CheckedMountPoint(path, true);
        }
        var resolved = Native.LibcPaths.RealPath(path) ?? path;
        if (MountTable.Read().Any(m => m.MountPoint == resolved))
            throw new InvalidStorageArgumentException("MountPointInUse", $"Something is already mounted at '{resolved}'.", path);
        if (Directory.EnumerateFileSystemEntries(resolved).Any())
            throw new InvalidStorageArgumentException("MountPointNotEmpty", $"The mount point '{resolved}' is not an empty directory.", path);
        return new CheckedMountPoint(resolved, false);
    }
}
