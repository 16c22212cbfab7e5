using SparseStorage.Core.Native;

namespace SparseStorage.Core.Copying;

/// <summary>Gives back the space of all-zero blocks inside a file's allocated extents: they become holes, which read as the same zeros.</summary>
public static class HolePuncher
{
    private const int ChunkSize = 8 << 20;

    /// <summary>Punches holes in place (FALLOC_FL_PUNCH_HOLE, size kept); returns the bytes turned into holes.</summary>
    public static long PunchZeroBlocks(string path, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        using var volume = Volumes.VolumeFile.OpenWrite(path);
        var file = volume.Handle;
        var length = volume.Status.Size;
        var extents = SparseFile.DataExtents(file, length).ToList();
        var total = extents.Sum(e => e.Length);
        var buffer = GC.AllocateUninitializedArray<byte>(ChunkSize);
        long punched = 0, done = 0;
        foreach (var extent in extents)
        {
            for (var offset = extent.Offset; offset < extent.End;)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var read = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(ChunkSize, extent.End - offset)), offset);
                if (read == 0)
                    break;
                punched += PunchZeroRuns(file, buffer.AsSpan(0, read), offset, path);
                offset += read;
                done += read;
                progress?.Report(new OperationProgress($"Punching holes in {Path.GetFileName(path)}", $"{ByteSize.Format(done)} of {ByteSize.Format(total)} scanned", done, total));
            }
        }
        RandomAccess.FlushToDisk(file);
        return punched;
    }

    /// <summary>
    /// Turns the file's unwritten extents into holes; returns the bytes given back. Both read as zeros, but an
    /// unwritten extent holds disk space: mkfs.xfs and mke2fs zero a log or journal with FALLOC_FL_ZERO_RANGE, which
    /// on an image file allocates a gigabyte that a hole-scanning pass (SEEK_DATA) cannot even see. Only for files
    /// that nothing else writes: a write landing between the extent map and the punch would be lost.
    /// </summary>
    public static long PunchUnwrittenExtents(string path)
    {
        using var file = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        var unwritten = PhysicalExtents.Read(file)?.Where(e => (e.Flags & PhysicalExtents.Unwritten) != 0).ToList() ?? [];
        foreach (var extent in unwritten)
            if (Libc.fallocate(file, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, extent.Logical, extent.Length) != 0)
                throw Libc.ErrnoException($"cannot punch a hole in {path}");
        RandomAccess.FlushToDisk(file);
        return unwritten.Sum(e => e.Length);
    }

    private static long PunchZeroRuns(Microsoft.Win32.SafeHandles.SafeFileHandle file, ReadOnlySpan<byte> data, long offset, string path)
    {
        long punched = 0;
        var position = ZeroBlocks.NextZeroBlock(data, 0);
        while (position < data.Length)
        {
            var end = ZeroBlocks.NextNonZeroBlock(data, position);
            // A trailing partial block stays: punching it would round to whole filesystem blocks anyway.
            var length = (end - position) / SparseCopier.ZeroBlockSize * SparseCopier.ZeroBlockSize;
            if (length > 0 && Libc.fallocate(file, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, offset + position, length) != 0)
                throw Libc.ErrnoException($"cannot punch a hole in {path}");
            punched += length;
            position = end >= data.Length ? end : ZeroBlocks.NextZeroBlock(data, end);
        }
        return punched;
    }
}
