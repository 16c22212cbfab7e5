using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// Moves plaintext between a plain image and an unlocked view (FUSE export or /dev/mapper device) over given ranges
/// only, so holes are neither read nor written. The view is opened with O_DIRECT (through qemu's FUSE export, page-cache
/// writes measured about 3× slower than direct ones), so buffers and ranges are 4 KiB aligned; the read of the next
/// chunk overlaps the write of the previous one.
/// </summary>
internal static class PlaintextTransfer
{
    public const int Alignment = 4096;
    private const int ChunkBytes = 4 * 1024 * 1024;

    /// <summary>O_DIRECT differs between architectures.</summary>
    public static int DirectFlag => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x10000 : 0x4000;

    public static SafeFileHandle OpenView(string path, bool write) =>
        Libc.Open(path, (write ? Libc.O_RDWR : Libc.O_RDONLY) | Libc.O_CLOEXEC | DirectFlag, 0);

    /// <summary>Rounds ranges outward to 4 KiB, clamps them to <paramref name="size"/>, and merges those that touch.</summary>
    public static IReadOnlyList<SparseFile.Extent> Align(IEnumerable<SparseFile.Extent> extents, long size)
    {
        var aligned = new List<SparseFile.Extent>();
        foreach (var extent in extents)
        {
            var start = Math.Max(0, extent.Offset / Alignment * Alignment);
            var end = Math.Min(size, (extent.End + Alignment - 1) / Alignment * Alignment);
            if (end <= start)
                continue;
            if (aligned.Count > 0 && aligned[^1].End >= start)
                aligned[^1] = new SparseFile.Extent(aligned[^1].Offset, Math.Max(aligned[^1].End, end) - aligned[^1].Offset);
            else
                aligned.Add(new SparseFile.Extent(start, end - start));
        }
        return aligned;
    }

    /// <summary>Copies the ranges from source to target at the same offsets; with <paramref name="skipZeroChunks"/> all-zero chunks stay holes in the target.</summary>
    public static void Copy(SafeFileHandle source, SafeFileHandle target, IReadOnlyList<SparseFile.Extent> ranges, bool skipZeroChunks, Action<long> progress, CancellationToken cancellationToken)
    {
        using var first = new AlignedBuffer(ChunkBytes);
        using var second = new AlignedBuffer(ChunkBytes);
        Task pendingWrite = Task.CompletedTask;
        long done = 0;
        var index = 0;
        foreach (var (offset, count) in Chunks(ranges))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var buffer = (index++ % 2 == 0 ? first : second).Memory[..count];
            ReadFully(source, buffer.Span, offset);
            pendingWrite.GetAwaiter().GetResult();
            done += count;
            progress(done);
            if (skipZeroChunks && !buffer.Span.ContainsAnyExcept((byte)0))
            {
                pendingWrite = Task.CompletedTask;
                continue;
            }
            pendingWrite = Task.Run(() => RandomAccess.Write(target, buffer.Span, offset), cancellationToken);
        }
        pendingWrite.GetAwaiter().GetResult();
    }

    /// <summary>The first offset where the two files differ within the ranges, or null when they agree.</summary>
    public static long? FirstDifference(SafeFileHandle expected, SafeFileHandle actual, IReadOnlyList<SparseFile.Extent> ranges, Action<long> progress, CancellationToken cancellationToken)
    {
        using var left = new AlignedBuffer(ChunkBytes);
        using var right = new AlignedBuffer(ChunkBytes);
        long done = 0;
        foreach (var (offset, count) in Chunks(ranges))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var a = left.Memory.Span[..count];
            var b = right.Memory.Span[..count];
            ReadFully(expected, a, offset);
            ReadFully(actual, b, offset);
            var mismatch = a.CommonPrefixLength(b);
            if (mismatch < count)
                return offset + mismatch;
            progress(done += count);
        }
        return null;
    }

    private static IEnumerable<(long Offset, int Count)> Chunks(IReadOnlyList<SparseFile.Extent> ranges)
    {
        foreach (var range in ranges)
            for (var offset = range.Offset; offset < range.End; offset += ChunkBytes)
                yield return (offset, (int)Math.Min(ChunkBytes, range.End - offset));
    }

    private static void ReadFully(SafeFileHandle file, Span<byte> buffer, long offset)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = RandomAccess.Read(file, buffer[total..], offset + total);
            if (read <= 0)
            {
                buffer[total..].Clear(); // past the end of a file reads as zeros, as in a hole
                return;
            }
            total += read;
        }
    }

    /// <summary>Page-aligned native memory, as O_DIRECT requires.</summary>
    private sealed unsafe class AlignedBuffer(int length) : MemoryManager<byte>
    {
        private readonly void* pointer = NativeMemory.AlignedAlloc((nuint)length, Alignment);

        public override Span<byte> GetSpan() => new(pointer, length);
        public override MemoryHandle Pin(int elementIndex = 0) => new((byte*)pointer + elementIndex);
        public override void Unpin() { }
        protected override void Dispose(bool disposing) => NativeMemory.AlignedFree(pointer);
    }
}
