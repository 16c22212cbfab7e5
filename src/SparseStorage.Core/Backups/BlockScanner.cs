using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Copying;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Backups;

/// <summary>One block of an image as read: where it is, how long, its SHA-256, whether it is all zeros, and its bytes.</summary>
internal readonly record struct ScannedBlock(long Index, int Length, string Hash, bool IsZero, ReadOnlyMemory<byte> Data);

/// <summary>
/// Reads the blocks of an image that hold data — found with SEEK_DATA, holes never read — hashes them, and hands
/// the ones a caller selects to a store, in a bounded pipeline of three stages that overlap: a reader thread (with
/// the blocks ahead already requested from the disk), hashing on the calling thread (on all cores), and a store
/// thread. The one reader behind backups, next to the copy engine's extent walk.
/// </summary>
internal sealed class BlockScanner(SafeFileHandle image, long length, int blockSize)
{
    /// <summary>Every block's bytes start at a multiple of this, so a store may write them with direct I/O.</summary>
    public const int BufferAlignment = 4096;
    private const int BatchBlocks = 4;
    private const int Batches = 8;
    /// <summary>How far ahead of the reader the kernel is asked to read (posix_fadvise WILLNEED), so that a cold
    /// image is read with many requests in flight instead of one block's latency after another.</summary>
    private const int ReadAheadBlocks = 64;

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
    /// Reads and hashes the given blocks batch by batch. <paramref name="select"/> sees each batch in order on the
    /// calling thread and returns the blocks to store; <paramref name="store"/> gets them, in the same order, on its
    /// own thread. A block's bytes are valid until <paramref name="store"/> returns. A failure in any stage, or
    /// cancellation, stops all three and is thrown here once both threads have ended.
    /// </summary>
    public void Scan(IReadOnlyList<long> blocks, Func<IReadOnlyList<ScannedBlock>, IReadOnlyList<ScannedBlock>> select,
        Action<IReadOnlyList<ScannedBlock>> store, CancellationToken cancellationToken)
    {
        using var run = new ScanRun(Batches, BatchBlocks, blockSize, cancellationToken);
        var reader = run.Start("block reader", () => ReadAll(blocks, run));
        Thread storer;
        try
        {
            storer = run.Start("block store", () => run.StoreAll(store));
        }
        catch
        {
            run.Abandon(reader); // no thread may outlive the run's disposal (a thread that cannot start: out of memory)
            throw;
        }
        run.Guard(() => HashAll(run, select));
        run.Finish(reader, storer);
    }

    public static string HashOf(ReadOnlySpan<byte> data) => Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant();

    private void ReadAll(IReadOnlyList<long> blocks, ScanRun run)
    {
        var advised = 0;
        for (var start = 0; start < blocks.Count; start += BatchBlocks)
        {
            var batch = run.Free.Take(run.Stopping);
            batch.Count = Math.Min(BatchBlocks, blocks.Count - start);
            for (var i = 0; i < batch.Count; i++)
            {
                for (; advised < Math.Min(blocks.Count, start + i + ReadAheadBlocks); advised++)
                    Libc.posix_fadvise(image, blocks[advised] * blockSize, blockSize, Libc.POSIX_FADV_WILLNEED);
                batch.Indices[i] = blocks[start + i];
                batch.Lengths[i] = ReadBlock(blocks[start + i], batch.Slot(i));
            }
            run.Read.Add(batch, run.Stopping);
        }
        run.Read.CompleteAdding();
    }

    private static void HashAll(ScanRun run, Func<IReadOnlyList<ScannedBlock>, IReadOnlyList<ScannedBlock>> select)
    {
        foreach (var batch in run.Read.GetConsumingEnumerable(run.Stopping))
        {
            Parallel.For(0, batch.Count, i =>
            {
                var data = batch.Slot(i)[..batch.Lengths[i]];
                batch.Blocks[i] = new ScannedBlock(batch.Indices[i], batch.Lengths[i], HashOf(data.Span), ZeroBlocks.IsZero(data.Span), data);
            });
            batch.Selected = select(new ArraySegment<ScannedBlock>(batch.Blocks, 0, batch.Count));
            run.Stored.Add(batch, run.Stopping);
        }
        run.Stored.CompleteAdding();
    }

    private int ReadBlock(long index, Memory<byte> slot)
    {
        var offset = index * blockSize;
        var expected = (int)Math.Min(blockSize, length - offset);
        var target = slot.Span[..expected];
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

    /// <summary>Blocks read into one pinned buffer, each at an aligned place, on their way through the stages.</summary>
    private sealed class Batch
    {
        private readonly byte[] memory;
        private readonly int start, blockSize;

        public unsafe Batch(int blocks, int blockSize)
        {
            this.blockSize = blockSize;
            memory = GC.AllocateUninitializedArray<byte>(blocks * blockSize + BufferAlignment, pinned: true);
            fixed (byte* address = memory)
                start = (int)((BufferAlignment - (nint)address % BufferAlignment) % BufferAlignment);
            Indices = new long[blocks];
            Lengths = new int[blocks];
            Blocks = new ScannedBlock[blocks];
        }

        public int Count { get; set; }
        public long[] Indices { get; }
        public int[] Lengths { get; }
        public ScannedBlock[] Blocks { get; }
        public IReadOnlyList<ScannedBlock> Selected { get; set; } = [];

        public Memory<byte> Slot(int i) => memory.AsMemory(start + i * blockSize, blockSize);
    }

    /// <summary>
    /// The queues between the stages and their shared fate: batches go free → read → stored → free, so memory stays
    /// bounded; the first failure is kept and stops every stage.
    /// </summary>
    private sealed class ScanRun : IDisposable
    {
        private readonly CancellationToken cancellation;
        private readonly CancellationTokenSource stop;
        private Exception? failure;

        public ScanRun(int batches, int batchBlocks, int blockSize, CancellationToken cancellation)
        {
            this.cancellation = cancellation;
            stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            for (var i = 0; i < batches; i++)
                Free.Add(new Batch(batchBlocks, blockSize));
        }

        public BlockingCollection<Batch> Free { get; } = [];
        public BlockingCollection<Batch> Read { get; } = [];
        public BlockingCollection<Batch> Stored { get; } = [];
        public CancellationToken Stopping => stop.Token;

        public Thread Start(string name, Action stage)
        {
            var thread = new Thread(() => Guard(stage)) { IsBackground = true, Name = name };
            thread.Start();
            return thread;
        }

        public void Guard(Action stage)
        {
            try
            {
                stage();
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
                stop.Cancel();
            }
        }

        public void StoreAll(Action<IReadOnlyList<ScannedBlock>> store)
        {
            foreach (var batch in Stored.GetConsumingEnumerable(Stopping))
            {
                store(batch.Selected);
                batch.Selected = [];
                Free.Add(batch);
            }
        }

        /// <summary>Waits for both threads — no stage may still use a handle or buffer once this returns — then throws the first failure.</summary>
        public void Finish(Thread reader, Thread storer)
        {
            reader.Join();
            storer.Join();
            if (failure is OperationCanceledException)
                cancellation.ThrowIfCancellationRequested();
            if (failure is not null)
                ExceptionDispatchInfo.Throw(failure);
        }

        /// <summary>Stops a stage that is already running and waits for it, when the others cannot start.</summary>
        public void Abandon(Thread started)
        {
            stop.Cancel();
            started.Join();
        }

        public void Dispose()
        {
            stop.Dispose();
            Free.Dispose();
            Read.Dispose();
            Stored.Dispose();
        }
    }
}
