using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Copying;

/// <summary>How a copy moved its data.</summary>
public enum CopyMethod
{
    /// <summary>FICLONE: the copy shares the source's blocks; nothing was read or written.</summary>
    Reflink,
    /// <summary>copy_file_range over the allocated extents: the kernel moved the data without a trip through user space.</summary>
    CopyFileRange,
    /// <summary>Reads and writes of the allocated extents (zero blocks skipped, or a cross-filesystem copy).</summary>
    ReadWrite,
}

public sealed record SparseCopyOptions
{
    /// <summary>Turn all-zero blocks inside allocated extents into holes (reads the data; no reflink, no kernel copy).</summary>
    public bool DetectZeroes { get; init; }
    /// <summary>Try FICLONE first; off when the copy must own its blocks.</summary>
    public bool AllowReflink { get; init; } = true;
    /// <summary>fsync the copy before returning, so that a rename after it cannot expose a file whose data is not on disk.</summary>
    public bool Flush { get; init; } = true;
}

public sealed record SparseCopyResult(CopyMethod Method, long SizeBytes, long DataBytes, long WrittenBytes);

/// <summary>
/// Copies a file keeping its holes: only the allocated extents (SEEK_DATA/SEEK_HOLE) are visited, so the time
/// follows the data, not the virtual size. The one engine behind clones, raw snapshots and restores.
/// </summary>
public static class SparseCopier
{
    /// <summary>The unit of zero detection: the block size of every filesystem a pool is likely to use.</summary>
    public const int ZeroBlockSize = 4096;
    private const int ChunkSize = 8 << 20;

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/>, which must not exist yet.</summary>
    public static SparseCopyResult Copy(string source, string destination, SparseCopyOptions options, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var input = Libc.Open(source, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        using var output = Libc.Open(destination, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_100_100);
        var length = RandomAccess.GetLength(input);
        var result = CopyHandles(input, output, length, options, new CopyProgress(progress, System.IO.Path.GetFileName(source)), cancellationToken);
        if (options.Flush)
            RandomAccess.FlushToDisk(output);
        return result;
    }

    private static SparseCopyResult CopyHandles(SafeFileHandle input, SafeFileHandle output, long length, SparseCopyOptions options, CopyProgress progress, CancellationToken cancellationToken)
    {
        if (options.AllowReflink && !options.DetectZeroes && Libc.ioctl(output, Libc.FICLONE, input) == 0)
        {
            progress.Done(length);
            return new SparseCopyResult(CopyMethod.Reflink, length, 0, 0);
        }
        if (Libc.ftruncate(output, length) != 0)
            throw Libc.ErrnoException("cannot set the length of the copy");
        var extents = SparseFile.DataExtents(input, length).ToList();
        progress.Start(extents.Sum(e => e.Length));
        var mover = options.DetectZeroes ? new BlockMover(input, output, skipZeroes: true) : null;
        long written = 0;
        foreach (var extent in extents)
        {
            written += mover is null && TryKernelCopy(input, output, extent, progress, cancellationToken) is { } copied
                ? copied
                : (mover ??= new BlockMover(input, output, skipZeroes: false)).Move(extent, progress, cancellationToken);
        }
        var method = options.DetectZeroes || mover is not null ? CopyMethod.ReadWrite : CopyMethod.CopyFileRange;
        return new SparseCopyResult(method, length, extents.Sum(e => e.Length), written);
    }

    /// <summary>copy_file_range over one extent; null when the kernel cannot copy between these files (then nothing was written).</summary>
    private static long? TryKernelCopy(SafeFileHandle input, SafeFileHandle output, SparseFile.Extent extent, CopyProgress progress, CancellationToken cancellationToken)
    {
        long inputOffset = extent.Offset, outputOffset = extent.Offset;
        while (inputOffset < extent.End)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = Libc.copy_file_range(input, ref inputOffset, output, ref outputOffset, (nuint)Math.Min(ChunkSize, extent.End - inputOffset), 0);
            if (count < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (inputOffset == extent.Offset && errno is Libc.EXDEV or Libc.EINVAL or Libc.ENOSYS or Libc.EOPNOTSUPP)
                    return null;
                throw Libc.ErrnoException("copy_file_range");
            }
            if (count == 0)
                throw new IOException($"the source ended at {inputOffset} bytes, inside an extent that reached {extent.End}");
            progress.Advance(count);
        }
        return extent.Length;
    }

    /// <summary>Moves data through a buffer; with zero skipping, all-zero 4 KiB blocks are left as holes in the copy.</summary>
    private sealed class BlockMover(SafeFileHandle input, SafeFileHandle output, bool skipZeroes)
    {
        private readonly byte[] buffer = GC.AllocateUninitializedArray<byte>(ChunkSize);

        public long Move(SparseFile.Extent extent, CopyProgress progress, CancellationToken cancellationToken)
        {
            long written = 0;
            for (var offset = extent.Offset; offset < extent.End;)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var read = RandomAccess.Read(input, buffer.AsSpan(0, (int)Math.Min(ChunkSize, extent.End - offset)), offset);
                if (read == 0)
                    throw new IOException($"the source ended at {offset} bytes, inside an extent that reached {extent.End}");
                written += skipZeroes ? WriteNonZeroRuns(buffer.AsSpan(0, read), offset) : Write(buffer.AsSpan(0, read), offset);
                offset += read;
                progress.Advance(read);
            }
            return written;
        }

        private long WriteNonZeroRuns(ReadOnlySpan<byte> data, long offset)
        {
            long written = 0;
            var position = 0;
            while (position < data.Length)
            {
                var start = ZeroBlocks.NextNonZeroBlock(data, position);
                if (start >= data.Length)
                    break;
                var end = ZeroBlocks.NextZeroBlock(data, start);
                written += Write(data[start..end], offset + start);
                position = end;
            }
            return written;
        }

        private long Write(ReadOnlySpan<byte> data, long offset)
        {
            RandomAccess.Write(output, data, offset);
            return data.Length;
        }
    }

    private sealed class CopyProgress(IProgress<OperationProgress>? sink, string name)
    {
        private long total, done;

        public void Start(long bytes) => total = bytes;

        public void Advance(long bytes)
        {
            done += bytes;
            sink?.Report(new OperationProgress($"Copying {name}", $"{ByteSize.Format(done)} of {ByteSize.Format(total)} of data", done, total));
        }

        public void Done(long bytes)
        {
            total = bytes;
            Advance(bytes);
        }
    }
}
