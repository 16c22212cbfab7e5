using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace SparseStorage.Core.Native;

/// <summary>The few Linux system calls Core needs that .NET does not expose.</summary>
internal static partial class Libc
{
    private const string Library = "libc";

    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;
    public const int LOCK_UN = 8;
    public const int SEEK_DATA = 3;
    public const int SEEK_HOLE = 4;
    public const int AT_FDCWD = -100;
    public const uint STATX_BASIC_STATS = 0x7ff;

    [LibraryImport(Library)]
    public static partial uint geteuid();

    [LibraryImport(Library, SetLastError = true)]
    public static partial int flock(SafeFileHandle fd, int operation);

    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_RDWR = 2;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_CLOEXEC = 0x80000;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_NONBLOCK = 0x800;
    public const int O_NOCTTY = 0x100;
    public const int ELOOP = 40;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const int AT_EMPTY_PATH = 0x1000;
    public const int S_IFMT = 0xF000;
    public const int S_IFREG = 0x8000;
    public const int S_IFLNK = 0xA000;

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenFile(string path, int flags, int mode);

    /// <summary>open(2) without .NET's FileStream, whose own emulated sharing locks would collide with flock.</summary>
    public static SafeFileHandle Open(string path, int flags, int mode)
    {
        var fd = OpenFile(path, flags, mode);
        return fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw ErrnoException(path);
    }

    /// <summary>O_DIRECT differs between architectures; 0 where this code does not know its value (no direct I/O there).</summary>
    public static readonly int O_DIRECT = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 0x4000,
        Architecture.Arm64 => 0x10000,
        _ => 0,
    };

    private const int F_GETFL = 3;
    private const int F_SETFL = 4;

    [LibraryImport(Library, SetLastError = true)]
    private static partial int fcntl(SafeFileHandle fd, int command, int argument);

    /// <summary>Turns O_DIRECT on or off on an open file (fcntl F_SETFL); false when the filesystem refuses it.</summary>
    public static bool SetDirect(SafeFileHandle fd, bool direct)
    {
        var flags = fcntl(fd, F_GETFL, 0);
        return O_DIRECT != 0 && flags >= 0 && fcntl(fd, F_SETFL, direct ? flags | O_DIRECT : flags & ~O_DIRECT) == 0;
    }

    private const int F_SETPIPE_SZ = 1031;

    [LibraryImport(Library, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int PipeControl(SafePipeHandle fd, int command, int argument);

    /// <summary>Asks for a pipe buffer of <paramref name="bytes"/> (fcntl F_SETPIPE_SZ); a refusal keeps the default, so it is not an error.</summary>
    public static void TryResizePipe(SafePipeHandle pipe, int bytes) => PipeControl(pipe, F_SETPIPE_SZ, bytes);

    /// <summary>splice(2) from a file at <paramref name="offset"/> (advanced by the bytes moved) into a pipe: the page cache's pages go into the pipe without a copy.</summary>
    [LibraryImport(Library, SetLastError = true)]
    public static partial nint splice(SafeFileHandle input, ref long offset, SafePipeHandle output, nint outputOffset, nuint length, uint flags);

    public const uint SPLICE_F_MORE = 4;

    [LibraryImport(Library)]
    private static partial nint getpwuid(uint uid);

    [LibraryImport(Library)]
    private static partial nint getgrgid(uint gid);

    /// <summary>The user's name (getpwuid's pw_name, the first field of struct passwd), or "" when there is none.</summary>
    public static string UserName(uint uid) => FirstStringField(getpwuid(uid));

    /// <summary>The group's name (getgrgid's gr_name, the first field of struct group), or "" when there is none.</summary>
    public static string GroupName(uint gid) => FirstStringField(getgrgid(gid));

    private static string FirstStringField(nint structure) => structure == 0 ? "" : Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(structure)) ?? "";

    public const int POSIX_FADV_WILLNEED = 3;

    /// <summary>posix_fadvise(2); returns the error number itself (0 on success), not -1.</summary>
    [LibraryImport(Library)]
    public static partial int posix_fadvise(SafeFileHandle fd, long offset, long length, int advice);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int fallocate(SafeFileHandle fd, int mode, long offset, long length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial long lseek(SafeFileHandle fd, long offset, int whence);

    [LibraryImport(Library, EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Access(string path, int mode);

    private const int W_OK = 2;

    /// <summary>access(2) W_OK: null when this process may write to the path, else the reason (e.g. a read-only filesystem).</summary>
    public static string? WriteRefusal(string path) =>
        Access(path, W_OK) == 0 ? null : Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());

    [LibraryImport(Library, SetLastError = true)]
    public static partial int ftruncate(SafeFileHandle fd, long length);

    public const int FALLOC_FL_KEEP_SIZE = 1;
    public const int FALLOC_FL_PUNCH_HOLE = 2;


    [LibraryImport(Library, SetLastError = true)]
    public static partial int kill(int pid, int signal);

    /// <summary>ioctl(2) FICLONE: make <paramref name="destination"/> share all blocks of <paramref name="source"/> (reflink).</summary>
    public const ulong FICLONE = 0x40049409;

    [LibraryImport(Library, SetLastError = true)]
    public static partial int ioctl(SafeFileHandle fd, ulong request, SafeFileHandle source);

    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    public static unsafe partial int ioctl(SafeFileHandle fd, ulong request, byte* argument);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statvfs(string path, ulong* buffer);

    /// <summary>The fields of statx(2) Core reads; statx's layout is the same on every architecture.</summary>
    public readonly record struct FileStatus(long Size, long AllocatedBytes, int Mode, uint Uid, uint Gid, long ModifiedSeconds)
    {
        public long Inode { get; init; }
        /// <summary>The device the inode lives on (major and minor), with <see cref="Inode"/> the file's identity.</summary>
        public long Device { get; init; }
        public uint Links { get; init; }
        public int FileType => Mode & S_IFMT;
        /// <summary>The inode's change time (ctime) in nanoseconds since the epoch: any write or attribute change moves it.</summary>
        public long ChangedNanoseconds { get; init; }
    }

    public static unsafe FileStatus Stat(string path) => StatAt(AT_FDCWD, path, 0, path);

    /// <summary>lstat: the status of the link itself when <paramref name="path"/> names a symbolic link.</summary>
    public static unsafe FileStatus StatNoFollow(string path) => StatAt(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, path);

    /// <summary>fstat through statx(AT_EMPTY_PATH): the status of the very file a descriptor holds.</summary>
    public static unsafe FileStatus Stat(SafeFileHandle file, string name)
    {
        var added = false;
        file.DangerousAddRef(ref added);
        try
        {
            return StatAt((int)file.DangerousGetHandle(), "", AT_EMPTY_PATH, name);
        }
        finally
        {
            if (added)
                file.DangerousRelease();
        }
    }

    private static unsafe FileStatus StatAt(int directory, string path, int flags, string name)
    {
        var buffer = stackalloc byte[256];
        if (statx(directory, path, flags, STATX_BASIC_STATS, buffer) != 0)
            throw ErrnoException(name);
        // stx_nlink at 0x10, stx_uid at 0x14, stx_gid at 0x18, stx_mode at 0x1c, stx_ino at 0x20, stx_size at 0x28,
        // stx_blocks (512-byte units) at 0x30, stx_ctime (tv_sec, tv_nsec) at 0x60, stx_mtime.tv_sec at 0x70,
        // stx_dev_major and stx_dev_minor at 0x88 and 0x8c.
        return new FileStatus(Size: (long)*(ulong*)(buffer + 0x28), AllocatedBytes: (long)*(ulong*)(buffer + 0x30) * 512,
            Mode: *(ushort*)(buffer + 0x1c), Uid: *(uint*)(buffer + 0x14), Gid: *(uint*)(buffer + 0x18), ModifiedSeconds: *(long*)(buffer + 0x70))
        {
            Inode = (long)*(ulong*)(buffer + 0x20),
            ChangedNanoseconds = *(long*)(buffer + 0x60) * 1_000_000_000 + *(uint*)(buffer + 0x68),
            Links = *(uint*)(buffer + 0x10),
            Device = ((long)*(uint*)(buffer + 0x88) << 32) | *(uint*)(buffer + 0x8c),
        };
    }

    private const uint STATX_DIOALIGN = 0x2000;

    /// <summary>
    /// The alignment direct I/O needs on this file, for memory and for file offsets and lengths alike (statx
    /// STATX_DIOALIGN, Linux 6.1); null when the filesystem does not support direct I/O or the kernel does not say.
    /// </summary>
    public static unsafe int? DirectIoAlignment(string path)
    {
        var buffer = stackalloc byte[256];
        if (statx(AT_FDCWD, path, 0, STATX_DIOALIGN, buffer) != 0 || (*(uint*)buffer & STATX_DIOALIGN) == 0)
            return null;
        // stx_dio_mem_align at offset 0x98, stx_dio_offset_align at 0x9c; 0 means no direct I/O.
        var alignment = Math.Max(*(uint*)(buffer + 0x98), *(uint*)(buffer + 0x9c));
        return *(uint*)(buffer + 0x98) == 0 || *(uint*)(buffer + 0x9c) == 0 ? null : (int)alignment;
    }

    public readonly record struct FileSystemSpace(long CapacityBytes, long AvailableBytes);

    /// <summary>statvfs(3) on 64-bit Linux: eleven 8-byte fields, then spare ints.</summary>
    public static unsafe FileSystemSpace Space(string path)
    {
        var buffer = stackalloc ulong[16];
        if (statvfs(path, buffer) != 0)
            throw ErrnoException(path);
        var fragment = (long)buffer[1];
        // f_blocks and f_bavail (blocks available to unprivileged users) in f_frsize units.
        return new FileSystemSpace((long)buffer[2] * fragment, (long)buffer[4] * fragment);
    }

    public static IOException ErrnoException(string what)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
    }
}

internal static partial class LibcPaths
{
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint realpath(string path, nint resolved);

    [LibraryImport("libc")]
    private static partial void free(nint pointer);

    /// <summary>realpath(3): the absolute path with every symlink and ".." resolved; null if it does not exist.</summary>
    public static string? RealPath(string path)
    {
        var resolved = realpath(path, 0);
        if (resolved == 0)
            return null;
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            free(resolved);
        }
    }
}
