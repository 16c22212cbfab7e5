using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Backups;

/// <summary>
/// The data.bin of a set being written: blocks appended in order, one gathered write per batch. Where the filesystem
/// supports direct I/O for the scanner's buffers, the file is written with O_DIRECT: the bytes go from the read
/// buffers to the disk without a second copy into the page cache, the disk works while the next blocks are read and
/// hashed, and the closing fsync finds nothing left to write back. Elsewhere (tmpfs, older kernels) it is written
/// through the page cache as usual.
/// </summary>
internal sealed class BackupDataFile : IDisposable
{
    private readonly SafeFileHandle handle;
    private readonly int alignment;
    private bool direct;

    private BackupDataFile(SafeFileHandle handle, int alignment, bool direct) => (this.handle, this.alignment, this.direct) = (handle, alignment, direct);

    /// <summary>Bytes written so far, the offset of the next block.</summary>
    public long Length { get; private set; }

    /// <summary>Whether the blocks go to the disk with direct I/O (see the class summary).</summary>
    public bool IsDirect => direct;

    public static BackupDataFile Create(string path, int blockSize)
    {
        var handle = Libc.Open(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_100_100);
        var alignment = Libc.DirectIoAlignment(path) ?? 0;
        var direct = alignment > 0 && BlockScanner.BufferAlignment % alignment == 0 && blockSize % alignment == 0 && Libc.SetDirect(handle, true);
        return new BackupDataFile(handle, alignment, direct);
    }

    /// <summary>Appends the blocks' bytes in order.</summary>
    public void Append(IReadOnlyList<ScannedBlock> blocks)
    {
        if (blocks.Count == 0)
            return;
        // Only the image's last block can be short, and it is the last one stored: from there on, buffered I/O.
        if (direct && blocks.Any(b => b.Length % alignment != 0))
            EndDirectIo();
        RandomAccess.Write(handle, blocks.Select(b => b.Data).ToList(), Length);
        Length += blocks.Sum(b => (long)b.Length);
    }

    private void EndDirectIo()
    {
        if (!Libc.SetDirect(handle, false))
            throw Libc.ErrnoException("cannot turn off direct I/O on data.bin");
        direct = false;
    }

    /// <summary>fsync: the data and the file's size are on disk.</summary>
    public void Flush() => RandomAccess.FlushToDisk(handle);

    public void Dispose() => handle.Dispose();
}
