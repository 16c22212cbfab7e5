using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Backups;

/// <summary>
/// The image an RBD diff chain describes, as the manifest's block list: the SHA-256 of every block that is not all
/// zeros. A backup of a Ceph volume never reads the image to make it: a full set hashes the blocks its diff writes,
/// an incremental takes its parent's list and rehashes only the blocks its own diff touches, rebuilding each of them
/// from the chain's diffs (a touched block's untouched part is what the earlier diffs left there). A restore is then
/// checked byte for byte against this list: every block that reads non-zero must be listed with the same hash, and
/// every listed block must read back.
/// </summary>
internal static class RbdDiffBlocks
{
    private const int BatchBlocks = 32;

    /// <summary>
    /// The blocks after applying <paramref name="diffs"/> (the chain, oldest first, ending with the new diff) given
    /// <paramref name="previous"/>, the blocks after all but the last (empty for a full set, then <paramref name="previousSize"/> is 0),
    /// and the SHA-256 of the new diff, hashed in the same read. A full set's blocks are hashed in that read too, so
    /// its diff is read once.
    /// </summary>
    public static (IReadOnlyList<BackupBlock> Blocks, RbdDiffSummary Summary, string DiffSha256) After(IReadOnlyList<string> diffs, IReadOnlyList<BackupBlock> previous,
        long previousSize, int blockSize, CancellationToken cancellationToken)
    {
        if (diffs.Count == 1 && previous.Count == 0 && previousSize == 0)
        {
            var streamed = new StreamedBlocks(blockSize);
            var (fullSummary, fullSha) = ReadHashing(diffs[0], streamed, cancellationToken);
            return (streamed.Finish(), fullSummary, fullSha);
        }
        var touched = new TouchedBlocks(blockSize);
        var (summary, sha) = ReadHashing(diffs[^1], touched, cancellationToken);
        touched.Finish();
        var size = summary.SizeBytes;
        var count = BlockCount(size, blockSize);
        foreach (var edge in new[] { BlockCount(previousSize, blockSize) - 1, count - 1 })
            if (edge >= 0 && edge < count && size != previousSize && !touched.Whole.ContainsKey(edge))
                touched.Indices.Add(edge);
        var rebuilt = touched.Whole.Values.OfType<BackupBlock>().Where(b => b.Index < count).ToList();
        var ordered = touched.Indices.Where(i => i < count).Order().ToList();
        for (var start = 0; start < ordered.Count; start += BatchBlocks)
            rebuilt.AddRange(Rebuild(diffs, ordered.GetRange(start, Math.Min(BatchBlocks, ordered.Count - start)), blockSize, size, cancellationToken));
        var blocks = previous.Where(b => b.Index < count && !touched.Indices.Contains(b.Index) && !touched.Whole.ContainsKey(b.Index))
            .Concat(rebuilt).OrderBy(b => b.Index).ToList();
        return (blocks, summary, sha);
    }

    /// <summary>Reads a whole diff into <paramref name="sink"/>, hashing every byte of the file as it goes by.</summary>
    private static (RbdDiffSummary Summary, string Sha256) ReadHashing(string path, IRbdDiffSink sink, CancellationToken cancellationToken)
    {
        using var file = UntrustedFile.OpenRegular(path, "RBD diff");
        using var stream = new FileStream(file.Handle, FileAccess.Read, 1 << 16);
        using var hashing = new HashingStream(stream);
        var summary = new RbdDiffReader(hashing, path).Read(sink, cancellationToken);
        return (summary, hashing.Finish());
    }

    public static long BlockCount(long size, int blockSize) => (size + blockSize - 1) / blockSize;

    public static RbdDiffSummary ReadDiff(string path, IRbdDiffSink sink, CancellationToken cancellationToken)
    {
        using var file = UntrustedFile.OpenRegular(path, "RBD diff");
        using var stream = new FileStream(file.Handle, FileAccess.Read, 1 << 16);
        return new RbdDiffReader(stream, path).Read(sink, cancellationToken);
    }

    /// <summary>Applies every diff of the chain to a few blocks held in memory, then hashes those that are not all zeros.</summary>
    private static IEnumerable<BackupBlock> Rebuild(IReadOnlyList<string> diffs, List<long> indices, int blockSize, long size, CancellationToken cancellationToken)
    {
        var batch = new BlockBatch(indices, blockSize);
        foreach (var diff in diffs)
            ReadDiff(diff, batch, cancellationToken);
        foreach (var (index, buffer) in batch.Buffers)
        {
            var length = (int)Math.Min(blockSize, size - index * blockSize);
            var data = buffer.AsSpan(0, length);
            if (data.ContainsAnyExcept((byte)0))
                yield return new BackupBlock(index, length, BlockScanner.HashOf(data), null, 0);
        }
    }

    /// <summary>
    /// The blocks of a lone diff (a full set's), hashed as its records go by: rbd writes records in rising,
    /// non-overlapping order, so a block is complete once a record starts past it.
    /// </summary>
    private sealed class StreamedBlocks(int blockSize) : IRbdDiffSink
    {
        private readonly List<BackupBlock> blocks = [];
        private readonly byte[] buffer = new byte[blockSize];
        private long size;
        private long current = -1;

        public void Resize(long sizeBytes) => size = sizeBytes;

        public void Data(long offset, ReadOnlySpan<byte> bytes)
        {
            while (bytes.Length > 0)
            {
                var index = offset / blockSize;
                if (index != current)
                    MoveTo(index);
                var at = (int)(offset - index * blockSize);
                var length = Math.Min(bytes.Length, blockSize - at);
                bytes[..length].CopyTo(buffer.AsSpan(at));
                offset += length;
                bytes = bytes[length..];
            }
        }

        /// <summary>Nothing to do: a single diff's records never overlap, so a zeroed range was never written in this pass.</summary>
        public void Zero(long offset, long length) { }

        public IReadOnlyList<BackupBlock> Finish()
        {
            MoveTo(-1);
            return blocks;
        }

        private void MoveTo(long index)
        {
            if (current >= 0)
            {
                var data = buffer.AsSpan(0, (int)Math.Min(blockSize, size - current * blockSize));
                if (data.ContainsAnyExcept((byte)0))
                    blocks.Add(new BackupBlock(current, data.Length, BlockScanner.HashOf(data), null, 0));
                buffer.AsSpan().Clear();
            }
            current = index;
        }
    }

    /// <summary>
    /// The blocks a new diff's records touch. A block its records cover whole (with whole-object diffs, every one) is
    /// hashed in the same read and lands in <see cref="Whole"/>; only the others, in <see cref="Indices"/>, need the
    /// chain read again. The reader delivers the size first and records in rising, non-overlapping order (it refuses a
    /// diff that is otherwise), so a block is settled once a record starts past it.
    /// </summary>
    private sealed class TouchedBlocks(int blockSize) : IRbdDiffSink
    {
        private readonly byte[] buffer = new byte[blockSize];
        private long size;
        private long current = -1;
        private long covered;

        /// <summary>Touched blocks to rebuild from the whole chain.</summary>
        public HashSet<long> Indices { get; } = [];

        /// <summary>Blocks the diff covers whole: the block, or null where it reads as zeros.</summary>
        public Dictionary<long, BackupBlock?> Whole { get; } = [];

        public void Resize(long sizeBytes) => size = sizeBytes;

        public void Data(long offset, ReadOnlySpan<byte> bytes) => Cover(offset, bytes.Length, bytes);

        public void Zero(long offset, long length) => Cover(offset, length, default);

        /// <summary>Settles the last block.</summary>
        public void Finish() => MoveTo(-1);

        private void Cover(long offset, long length, ReadOnlySpan<byte> bytes)
        {
            while (length > 0)
            {
                var index = offset / blockSize;
                if (index != current)
                    MoveTo(index);
                var at = (int)(offset - index * blockSize);
                var chunk = (int)Math.Min(length, blockSize - at);
                if (bytes.IsEmpty)
                    buffer.AsSpan(at, chunk).Clear();
                else
                    bytes[..chunk].CopyTo(buffer.AsSpan(at));
                covered += Math.Clamp(size - offset, 0, chunk);
                (offset, length) = (offset + chunk, length - chunk);
                bytes = bytes.IsEmpty ? bytes : bytes[chunk..];
            }
        }

        private void MoveTo(long index)
        {
            if (current >= 0)
            {
                var length = (int)Math.Clamp(size - current * blockSize, 0, blockSize);
                if (length > 0 && covered >= length)
                    Whole[current] = buffer.AsSpan(0, length).ContainsAnyExcept((byte)0) ? new BackupBlock(current, length, BlockScanner.HashOf(buffer.AsSpan(0, length)), null, 0) : null;
                else
                    Indices.Add(current);
                buffer.AsSpan().Clear();
            }
            (current, covered) = (index, 0);
        }
    }

    /// <summary>A few blocks of the image, each a buffer the diffs' records are applied to in order.</summary>
    private sealed class BlockBatch(List<long> indices, int blockSize) : IRbdDiffSink
    {
        public SortedDictionary<long, byte[]> Buffers { get; } = new(indices.ToDictionary(i => i, _ => new byte[blockSize]));
        private readonly long first = indices[0], last = indices[^1];

        /// <summary>What lies beyond a smaller size is gone: a later growth reads zeros there.</summary>
        public void Resize(long sizeBytes)
        {
            foreach (var (index, buffer) in Buffers)
            {
                var start = index * blockSize;
                if (start + blockSize > sizeBytes)
                    buffer.AsSpan((int)Math.Clamp(sizeBytes - start, 0, blockSize)).Clear();
            }
        }

        public bool Wants(long offset, long length) => offset <= (last + 1) * blockSize - 1 && offset + length > first * blockSize && Overlapping(offset, length).Any();

        public void Data(long offset, ReadOnlySpan<byte> bytes)
        {
            foreach (var (index, buffer) in Overlapping(offset, bytes.Length))
            {
                var (from, to) = Clip(index, offset, bytes.Length);
                bytes.Slice((int)(from - offset), (int)(to - from)).CopyTo(buffer.AsSpan((int)(from - index * blockSize)));
            }
        }

        public void Zero(long offset, long length)
        {
            foreach (var (index, buffer) in Overlapping(offset, length))
            {
                var (from, to) = Clip(index, offset, length);
                buffer.AsSpan((int)(from - index * blockSize), (int)(to - from)).Clear();
            }
        }

        private (long From, long To) Clip(long index, long offset, long length) =>
            (Math.Max(offset, index * blockSize), Math.Min(offset + length, (index + 1) * blockSize));

        private IEnumerable<(long Index, byte[] Buffer)> Overlapping(long offset, long length)
        {
            var low = Math.Max(first, offset / blockSize);
            var high = Math.Min(last, (offset + length - 1) / blockSize);
            if (low > high)
                yield break;
            foreach (var (index, buffer) in Buffers.Where(b => b.Key >= low && b.Key <= high))
                yield return (index, buffer);
        }
    }
}

/// <summary>
/// Applies an RBD diff to a sparse raw file: data is written, except all-zero stretches, which — like zero records — are
/// punched out, so holes stay holes and data an earlier diff wrote there is gone; the size record sets the file's length.
/// </summary>
internal sealed class SparseFileDiffSink(SafeFileHandle file, string path) : IRbdDiffSink
{
    private const int Piece = 64 << 10;

    public void Resize(long sizeBytes)
    {
        if (Libc.ftruncate(file, sizeBytes) != 0)
            throw Libc.ErrnoException($"cannot size {path}");
    }

    public void Data(long offset, ReadOnlySpan<byte> bytes)
    {
        for (var done = 0; done < bytes.Length;)
        {
            var at = offset + done;
            var length = (int)Math.Min(bytes.Length - done, Piece - at % Piece);
            var piece = bytes.Slice(done, length);
            if (piece.ContainsAnyExcept((byte)0))
                RandomAccess.Write(file, piece, at);
            else
                Zero(at, length);
            done += length;
        }
    }

    public void Zero(long offset, long length)
    {
        if (Libc.fallocate(file, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, offset, length) != 0)
            throw Libc.ErrnoException($"cannot punch a hole in {path}");
    }
}
