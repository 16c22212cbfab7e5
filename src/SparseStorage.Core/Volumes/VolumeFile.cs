using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// A volume's image file, opened so that a tenant who can place files in a pool cannot redirect the operation: the
/// path is checked without following links (lstat), opened with O_NOFOLLOW, and the descriptor must then hold that
/// same inode, a regular file with exactly one link. Reads and writes go through <see cref="Handle"/>, never through
/// the path again.
/// </summary>
internal sealed class VolumeFile : IDisposable
{
    private VolumeFile(string path, SafeFileHandle handle, Libc.FileStatus status)
    {
        Path = path;
        Handle = handle;
        Status = status;
    }

    public string Path { get; }
    public SafeFileHandle Handle { get; }
    public Libc.FileStatus Status { get; }

    /// <summary>Opens for reading. O_NONBLOCK: a FIFO that slipped in between the checks must not block the open.</summary>
    public static VolumeFile OpenRead(string path) => Open(path, Libc.O_RDONLY);

    public static VolumeFile OpenWrite(string path) => Open(path, Libc.O_RDWR);

    private static VolumeFile Open(string path, int access)
    {
        var before = Libc.StatNoFollow(path);
        Require(path, before);
        SafeFileHandle handle;
        try
        {
            handle = Libc.Open(path, access | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        }
        catch (IOException e) when (e.HResult == Libc.ELOOP)
        {
            throw new UnsafeVolumeFileException($"'{path}' became a symbolic link while it was opened; volumes are never opened through links.", path);
        }
        try
        {
            var status = Libc.Stat(handle, path);
            Require(path, status);
            if (status.Inode != before.Inode || status.Device != before.Device)
                throw new UnsafeVolumeFileException($"'{path}' was replaced by another file while it was opened.", path);
            return new VolumeFile(path, handle, status);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Why a file is not a volume the module may touch, or null when it is a regular file with one link.</summary>
    public static string? Refusal(Libc.FileStatus status) => (status.FileType, status.Links) switch
    {
        (Libc.S_IFREG, 1) => null,
        (Libc.S_IFREG, var links) => $"it has {links} hard links, so it may be another file's data",
        (Libc.S_IFLNK, _) => "it is a symbolic link",
        (0x2000, _) => "it is a character device",
        (0x6000, _) => "it is a block device",
        (0x1000, _) => "it is a FIFO",
        (0xC000, _) => "it is a socket",
        (0x4000, _) => "it is a directory",
        _ => "it is not a regular file",
    };

    /// <summary>Whether <paramref name="path"/> itself is a symbolic link (false when nothing is there).</summary>
    public static bool IsLink(string path)
    {
        try
        {
            return Libc.StatNoFollow(path).FileType == Libc.S_IFLNK;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Why the file at <paramref name="path"/> (not followed if a link) is not a volume, or null.</summary>
    public static string? RefusalAt(string path) => Refusal(Libc.StatNoFollow(path));

    private static void Require(string path, Libc.FileStatus status)
    {
        if (Refusal(status) is { } reason)
            throw new UnsafeVolumeFileException($"'{path}' is not treated as a volume: {reason}.", path);
    }

    /// <summary>
    /// For a tool that can only be given a path: after it ran, the path must still name the inode that was checked,
    /// or what the tool touched was not the volume.
    /// </summary>
    public void RequireStillAt()
    {
        var now = Libc.StatNoFollow(Path);
        if (now.Inode != Status.Inode || now.Device != Status.Device || Refusal(now) is not null)
            throw new UnsafeVolumeFileException($"'{Path}' was replaced by another file during the operation.", Path);
    }

    /// <summary>
    /// A path that names the very inode this descriptor holds, for a tool that only takes paths: the kernel reopens the
    /// file behind /proc/PID/fd/N, whatever the volume's path names by then.
    /// </summary>
    public string DescriptorPath => $"/proc/{Environment.ProcessId}/fd/{Handle.DangerousGetHandle()}";

    public void Dispose() => Handle.Dispose();
}
