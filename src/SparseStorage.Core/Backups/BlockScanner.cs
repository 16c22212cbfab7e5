using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Copying;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Backups;

/// <summary>One block of an image as read: where it is, how long, its SHA-256, whether it is all zeros, and its bytes.</summary>
internal readonly record struct ScannedBlock(long Index, int Length, string Hash, bool IsZero, ReadOnlyMemory<byte> Data);

/// <summary>
/// Reads the blocks of an image that hold data — found with SEEK_DATA, holes never read — in batches, and hashes
/// each batch on all cores. The one reader behind backups, next to the copy engine's extent walk.
/// </summary>
internal sealed class BlockScanner(SafeFileHandle image, long length, int blockSize)
{
    private const int BatchBlocks = 32;
    private readonly byte[] buffer = GC.AllocateUninitializedArray<byte>(BatchBlocks * blockSize);

    /// <summary>Indices of every block that overlaps an allocated extent, in order.</summary>
    public List<long> DataBlocks()
    {
        var blocks = new List<long>();
        foreach (var extent in SparseFile.DataExtents(image, length))
        {
            var first = extent.Offset / blockSize;
            var last = (extent.End - 1) / blockSize;
            for (var index = blocks.Count > 0 && blocks[^1] >= first ? blocks[^1] + 1 : first; index <= last; index++)
                blocks.Add(index);
        }
        return blocks;
    }

    /// <summary>
    /// Reads and hashes the given blocks batch by batch; <paramref name="consume"/> sees each batch while its bytes
    /// are valid (the buffer is reused for the next batch).
    /// </summary>
    public void Scan(IReadOnlyList<long> blocks, Action<IReadOnlyList<ScannedBlock>> consume, CancellationToken cancellationToken)
    {
        var batch = new ScannedBlock[BatchBlocks];
        for (var start = 0; start < blocks.Count; start += BatchBlocks)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = Math.Min(BatchBlocks, blocks.Count - start);
            var lengths = new int[count];
            for (var i = 0; i < count; i++)
                lengths[i] = ReadBlock(blocks[start + i], i);
            Parallel.For(0, count, i =>
            {
                var data = buffer.AsMemory(i * blockSize, lengths[i]);
                batch[i] = new ScannedBlock(blocks[start + i], lengths[i], HashOf(data.Span), ZeroBlocks.IsZero(data.Span), data);
            });
            consume(new ArraySegment<ScannedBlock>(batch, 0, count));
        }
    }

    public static string HashOf(ReadOnlySpan<byte> data) => Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant();

    private int ReadBlock(long index, int slot)
    {
        var offset = index * blockSize;
        var expected = (int)Math.Min(blockSize, length - offset);
        var target = buffer.AsSpan(slot * blockSize, expected);
        var done = 0;
        while (done < expected)
        {
            var read = RandomAccess.Read(image, target[done..], offset + done);
            if (read == 0)
                throw new IOException($"the image ended at {offset + done} bytes while {length} were expected; it changed during the backup");
            done += read;
        }
        return expected;
    }
}
