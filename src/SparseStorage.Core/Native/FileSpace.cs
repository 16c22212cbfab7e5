using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Host;

namespace SparseStorage.Core.Native;

/// <summary>
/// Sets a file's length and reserves its space, turning the host filesystem's refusals into errors that say what
/// happened: EFBIG (larger than its largest file) and ENOSPC or EDQUOT (no space) name the file, the size and the
/// filesystem, where .NET would give a bare "File too large" or "No space left on device".
/// </summary>
public static class FileSpace
{
    private const int EFBIG = 27;
    private const int ENOSPC = 28;
    private const int EDQUOT = 122;

    /// <summary>ftruncate(2): holes beyond the old end, or the tail cut off.</summary>
    public static void SetLength(SafeFileHandle file, long length, string path)
    {
        if (Libc.ftruncate(file, length) != 0)
            throw Failure(path, length, 0, $"set the length of {path} to {ByteSize.Format(length)}");
    }

    /// <summary>fallocate(2) mode 0: reserves blocks so later writes cannot fail for lack of space.</summary>
    public static void Reserve(SafeFileHandle file, long offset, long length, string path)
    {
        if (length > 0 && Libc.fallocate(file, 0, offset, length) != 0)
            throw Failure(path, offset + length, length, $"reserve {ByteSize.Format(length)} for {path}");
    }

    private static Exception Failure(string path, long size, long needed, string what)
    {
        var errno = Marshal.GetLastPInvokeError();
        var directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? path;
        return errno switch
        {
            EFBIG => new SizeBeyondHostFileLimitException(
                $"Cannot {what}: {ByteSize.Format(size)} ({size} bytes) is more than the largest file the {HostFileSystem(directory)} filesystem holding {directory} can hold. " +
                "Choose a smaller size, or a pool on a filesystem with larger files (xfs, btrfs).", path),
            ENOSPC or EDQUOT => new PoolFullException(
                $"Cannot {what}: no space left on the {HostFileSystem(directory)} filesystem holding {directory} ({Marshal.GetPInvokeErrorMessage(errno)}); " +
                $"it needed {ByteSize.Format(needed)} and {ByteSize.Format(FreeBytes(directory))} is free.", path),
            _ => new IOException($"Cannot {what}: {Marshal.GetPInvokeErrorMessage(errno)}", errno),
        };
    }

    private static string HostFileSystem(string directory) =>
        MountTable.Containing(MountTable.Read(), directory)?.FileSystemType ?? "host";

    private static long FreeBytes(string directory) => Libc.Space(directory).AvailableBytes;
}
