using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Backups;

/// <summary>
/// Opens a file that someone else may have placed (an archive, a key file, a backup set's files) for reading, and
/// checks the open descriptor — not the path — is a regular file. O_NONBLOCK keeps a FIFO in its place from
/// blocking the open forever.
/// </summary>
internal static class UntrustedFile
{
    /// <summary>The opened file, its size and its permission bits (the low 12 bits of st_mode).</summary>
    public sealed record Opened(SafeFileHandle Handle, long Size, int Permissions) : IDisposable
    {
        public void Dispose() => Handle.Dispose();
    }

    public static Opened OpenRegular(string path, string what)
    {
        var handle = Libc.Open(path, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        try
        {
            var status = Libc.Stat(handle, path);
            if (status.FileType != Libc.S_IFREG)
                throw new InvalidStorageArgumentException("NotARegularFile", $"The {what} '{path}' is not a regular file; it is not read.", path);
            return new Opened(handle, status.Size, status.Mode & 0xFFF);
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
}
