using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Backups;

/// <summary>
/// Opens a file that someone else may have placed (an archive, a key file) for reading, and checks the open descriptor
/// — not the path — is a regular file. O_NONBLOCK keeps a FIFO in its place from blocking the open forever.
/// </summary>
internal static partial class UntrustedFile
{
    private const int O_NONBLOCK = 0x800;
    private const int AT_EMPTY_PATH = 0x1000;
    private const int S_IFMT = 0xF000;
    private const int S_IFREG = 0x8000;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(SafeFileHandle dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>The opened file, its size and its permission bits (the low 12 bits of st_mode).</summary>
    public sealed record Opened(SafeFileHandle Handle, long Size, int Permissions) : IDisposable
    {
        public void Dispose() => Handle.Dispose();
    }

    public static Opened OpenRegular(string path, string what)
    {
        var handle = Libc.Open(path, Libc.O_RDONLY | O_NONBLOCK | Libc.O_CLOEXEC, 0);
        try
        {
            var (mode, size) = Status(handle, path);
            if ((mode & S_IFMT) != S_IFREG)
                throw new InvalidStorageArgumentException("NotARegularFile", $"The {what} '{path}' is not a regular file; it is not read.", path);
            return new Opened(handle, size, mode & 0xFFF);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The whole file, which must be regular and at most <paramref name="limit"/> bytes.</summary>
    public static byte[] ReadAll(string path, string what, long limit)
    {
        using var file = OpenRegular(path, what);
        if (file.Size > limit)
            throw new InvalidStorageArgumentException("FileTooLarge", $"The {what} '{path}' holds {file.Size} bytes, more than the {limit} it may hold.", path);
        var bytes = new byte[file.Size];
        var read = 0;
        for (int n; read < bytes.Length && (n = RandomAccess.Read(file.Handle, bytes.AsSpan(read), read)) > 0;)
            read += n;
        return read == bytes.Length ? bytes : throw new IOException($"{path}: the {what} changed while it was read");
    }

    private static unsafe (int Mode, long Size) Status(SafeFileHandle handle, string path)
    {
        var buffer = stackalloc byte[256];
        if (statx(handle, "", AT_EMPTY_PATH, Libc.STATX_BASIC_STATS, buffer) != 0)
            throw Libc.ErrnoException(path);
        return (*(ushort*)(buffer + 0x1c), (long)*(ulong*)(buffer + 0x28));
    }
}
