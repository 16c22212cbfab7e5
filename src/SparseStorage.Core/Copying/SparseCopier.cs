using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Copying;

/// <summary>How a copy moved its data.</summary>
public enum CopyMethod
{
    /// <summary>FICLONE: the copy shares the source's blocks; nothing was read or written.</summary>
    Reflink,
    /// <summary>Reads and writes of the allocated extents only (with -DetectZeroes, all-zero blocks skipped).</summary>
    ReadWrite,
}

public sealed record SparseCopyOptions
{
    /// <summary>Turn all-zero blocks inside allocated extents into holes (reads the data; no reflink, no kernel copy).</summary>
    public bool DetectZeroes { get; init; }
    /// <summary>Try FICLONE first; off when the copy must own its blocks.</summary>
    public bool AllowReflink { get; init; } = true;
}

public sealed record SparseCopyResult(CopyMethod Method, long SizeBytes);

/// <summary>
/// Copies a file keeping its holes: a reflink where the filesystem can share blocks, otherwise only the allocated
/// extents (SEEK_DATA/SEEK_HOLE) are read and written, so the time follows the data, not the virtual size. The one
/// engine behind clones, raw snapshots and restores.
/// </summary>
public static class SparseCopier
{
    /// <summary>The unit of zero detection: the block size of every filesystem a pool is likely to use.</summary>
    public const int ZeroBlockSize = 4096;
    private const int ChunkSize = 8 << 20;

    /// <summary>
    /// Copies <paramref name="source"/> (a volume or snapshot file of a pool: only a regular file with one link, see
    /// <see cref="Volumes.VolumeFile"/>) to <paramref name="destination"/>, which must not exist yet.
    /// </summary>
    public static SparseCopyResult Copy(string source, string destination, SparseCopyOptions options, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var sourceFile = Volumes.VolumeFile.OpenRead(source);
        var input = sourceFile.Handle;
        using var output = Libc.Open(destination, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_100_100);
        var length = sourceFile.Status.Size;
        var result = CopyHandles(input, output, length, options, new CopyProgress(progress, System.IO.Path.GetFileName(source)), cancellationToken);
        // Flushed before any caller renames it into place: a rename must never expose a file whose data is not on disk.
        RandomAccess.FlushToDisk(output);
        return result;
    }

    private static SparseCopyResult CopyHandles(SafeFileHandle input, SafeFileHandle output, long length, SparseCopyOptions options, CopyProgress progress, CancellationToken cancellationToken)
    {
        if (options.AllowReflink && !options.DetectZeroes && Libc.ioctl(output, Libc.FICLONE, input) == 0)
        {
            progress.Done(length);
            return new SparseCopyResult(CopyMethod.Reflink, length);
        }
        if (Libc.ftruncate(output, length) != 0)
            throw Libc.ErrnoException("cannot set the length of the copy");
        var extents = SparseFile.DataExtents(input, length).ToList();
        progress.Start(extents.Sum(e => e.Length));
        new ChunkPipeline(input, output, options.DetectZeroes).Copy(extents, progress, cancellationToken);
        return new SparseCopyResult(CopyMethod.ReadWrite, length);
    }

    /// <summary>
    /// Moves the extents through two buffers: the next chunk is read while the last one is written, so reading and
    /// writing overlap on two cores. Plain reads and writes, not copy_file_range: on ext4 (no reflink) the
    /// kernel's splice-based copy_file_range measured three times slower than this for 1 GiB of scattered data.
    /// </summary>
    private sealed class ChunkPipeline(SafeFileHandle input, SafeFileHandle output, bool skipZeroes)
    {
        private readonly byte[][] buffers = [GC.AllocateUninitializedArray<byte>(ChunkSize), GC.AllocateUninitializedArray<byte>(ChunkSize)];
        private Task pending = Task.CompletedTask;
        private int current;

        public void Copy(IReadOnlyList<SparseFile.Extent> extents, CopyProgress progress, CancellationToken cancellationToken)
        {
            try
            {
                foreach (var extent in extents)
                    CopyExtent(extent, progress, cancellationToken);
                pending.GetAwaiter().GetResult();
            }
            finally
            {
                // Never leave a write running on a handle the caller is about to close.
                ((IAsyncResult)pending).AsyncWaitHandle.WaitOne();
            }
        }

        private void CopyExtent(SparseFile.Extent extent, CopyProgress progress, CancellationToken cancellationToken)
        {
            for (var offset = extent.Offset; offset < extent.End;)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var buffer = buffers[current];
                var read = RandomAccess.Read(input, buffer.AsSpan(0, (int)Math.Min(ChunkSize, extent.End - offset)), offset);
                if (read == 0)
                    throw new IOException($"the source ended at {offset} bytes, inside an extent that reached {extent.End}");
                pending.GetAwaiter().GetResult();
                var at = offset;
                pending = Task.Run(() =>
                {
                    if (skipZeroes)
                        WriteNonZeroRuns(buffer.AsSpan(0, read), at);
                    else
                        RandomAccess.Write(output, buffer.AsSpan(0, read), at);
                });
                offset += read;
                current ^= 1;
                progress.Advance(read);
            }
        }

        private void WriteNonZeroRuns(ReadOnlySpan<byte> data, long offset)
        {
            var position = 0;
            while (position < data.Length)
            {
                var start = ZeroBlocks.NextNonZeroBlock(data, position);
                if (start >= data.Length)
                    break;
                var end = ZeroBlocks.NextZeroBlock(data, start);
                RandomAccess.Write(output, data[start..end], offset + start);
                position = end;
            }
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
