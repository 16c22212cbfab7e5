using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using SparseStorage.Core.Backups;
using SparseStorage.Core.Native;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

/// <summary>
/// The reader of <c>rbd export-diff</c> output ("rbd diff v1"): well-formed diffs as rbd writes them are read to the
/// byte, and crafted, truncated or oversized ones are refused before anything is applied, without allocating what a
/// length claims. The block list computed from a diff chain equals the hashes of the image it describes.
/// </summary>
public sealed class RbdDiffReaderTests : IDisposable
{
    private readonly TempDirectory root = new("sstest-cbackup-units");

    private sealed class Recorder : IRbdDiffSink
    {
        public List<string> Events { get; } = [];
        public void Resize(long sizeBytes) => Events.Add($"s {sizeBytes}");
        public void Data(long offset, ReadOnlySpan<byte> bytes) => Events.Add($"w {offset} {bytes.Length} {bytes[0]:x2}");
        public void Zero(long offset, long length) => Events.Add($"z {offset} {length}");
    }

    /// <summary>Builds a diff as rbd writes it, record by record.</summary>
    private sealed class Diff
    {
        private readonly MemoryStream bytes = new();
        public Diff(string magic = RbdDiffReader.Magic) => bytes.Write(Encoding.ASCII.GetBytes(magic));
        public Diff Name(char tag, string name) => Name(tag, Encoding.UTF8.GetBytes(name));
        public Diff Name(char tag, byte[] name) => Tag(tag).U32((uint)name.Length).Raw(name);
        public Diff Size(ulong size) => Tag('s').U64(size);
        public Diff Write(ulong offset, byte value, int length) => Tag('w').U64(offset).U64((ulong)length).Raw(Enumerable.Repeat(value, length).ToArray());
        public Diff WriteHeaderOnly(ulong offset, ulong length) => Tag('w').U64(offset).U64(length);
        public Diff Zero(ulong offset, ulong length) => Tag('z').U64(offset).U64(length);
        public Diff End() => Tag('e');
        public Diff Tag(char tag) => Raw([(byte)tag]);
        public Diff Raw(byte[] raw)
        {
            bytes.Write(raw);
            return this;
        }
        public byte[] Bytes => bytes.ToArray();

        private Diff U32(uint value)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, value);
            return Raw(b);
        }

        private Diff U64(ulong value)
        {
            var b = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, value);
            return Raw(b);
        }
    }

    private static (RbdDiffSummary Summary, List<string> Events) Read(byte[] diff, bool seekable = true)
    {
        var sink = new Recorder();
        Stream input = seekable ? new MemoryStream(diff) : new NonSeekable(diff);
        return (new RbdDiffReader(input, "test.diff").Read(sink), sink.Events);
    }

    [Fact]
    public void A_diff_as_rbd_writes_it_is_read_to_the_byte_with_its_snapshot_names()
    {
        var diff = new Diff().Name('f', "a").Name('t', "b").Size(1 << 20).Write(4096, 0x5a, 8192).Zero(65536, 4096).Write(1 << 19, 0x01, 3).End().Bytes;

        var (summary, events) = Read(diff, seekable: false);

        summary.Should().Be(new RbdDiffSummary("a", "b", 1 << 20, 8195, 4096, 3));
        events.Should().Equal("s 1048576", "w 4096 8192 5a", "z 65536 4096", "w 524288 3 01");
    }

    [Fact]
    public void A_full_diff_needs_no_from_snapshot()
    {
        var (summary, _) = Read(new Diff().Name('t', "full").Size(4096).Write(0, 1, 4096).End().Bytes);
        summary.FromSnapshot.Should().BeNull();
        summary.ToSnapshot.Should().Be("full");
    }

    public static TheoryData<string, byte[], string> Crafted() => new()
    {
        { "wrong magic", new Diff("rbd diff v2\n").Size(10).End().Bytes, "*does not start with*" },
        { "unknown tag", new Diff().Size(4096).Tag('q').End().Bytes, "*unknown record tag 0x71*" },
        { "data before size", new Diff().Write(0, 1, 16).Size(4096).End().Bytes, "*comes before the image size*" },
        { "two sizes", new Diff().Size(4096).Size(8192).End().Bytes, "*second or late size*" },
        { "size after data", new Diff().Size(4096).Write(0, 1, 1).Size(8192).End().Bytes, "*second or late size*" },
        { "name after data", new Diff().Size(4096).Write(0, 1, 1).Name('t', "x").End().Bytes, "*follows data records*" },
        { "two from names", new Diff().Name('f', "a").Name('f', "b").Size(4096).End().Bytes, "*two 'from' snapshots*" },
        { "empty name", new Diff().Name('t', "").Size(4096).End().Bytes, "*0 bytes long*" },
        { "huge name", new Diff().Tag('t').Raw([0xff, 0xff, 0xff, 0x7f]).Bytes, "*2147483647 bytes long*" },
        { "name not UTF-8", new Diff().Name('t', [0xc3, 0x28]).Size(4096).End().Bytes, "*not UTF-8*" },
        { "name with a newline", new Diff().Name('t', "a\nb").Size(4096).End().Bytes, "*control characters*" },
        { "image of 2^63 bytes", new Diff().Size(1UL << 63).End().Bytes, "*above the*" },
        { "record past the image", new Diff().Size(4096).Write(4000, 1, 200).End().Bytes, "*reaches past the image*" },
        { "offset+length overflows", new Diff().Size(4096).WriteHeaderOnly(ulong.MaxValue - 1, 4).End().Bytes, "*reaches past the image*" },
        { "empty record", new Diff().Size(4096).Zero(0, 0).End().Bytes, "*is empty*" },
        { "overlapping records", new Diff().Size(8192).Write(0, 1, 4096).Zero(2048, 16).End().Bytes, "*overlaps or precedes*" },
        { "records out of order", new Diff().Size(8192).Zero(4096, 16).Write(0, 1, 16).End().Bytes, "*overlaps or precedes*" },
        { "bytes after the end", new Diff().Size(4096).End().Raw([0]).Bytes, "*follow its end record*" },
        { "no end record", new Diff().Size(4096).Write(0, 1, 16).Bytes, "*ends inside a record tag*" },
        { "end without a size", new Diff().End().Bytes, "*without an image size*" },
    };

    [Theory]
    [MemberData(nameof(Crafted))]
    public void A_crafted_diff_is_refused(string what, byte[] diff, string message)
    {
        foreach (var seekable in new[] { true, false })
            FluentActions.Invoking(() => Read(diff, seekable)).Should().Throw<BackupDamagedException>(what).WithMessage(message);
    }

    [Fact]
    public void A_diff_cut_short_anywhere_is_refused()
    {
        var diff = new Diff().Name('f', "a").Name('t', "b").Size(1 << 20).Write(4096, 0x5a, 300).Zero(65536, 4096).End().Bytes;
        for (var length = 0; length < diff.Length; length++)
            FluentActions.Invoking(() => Read(diff[..length], seekable: length % 2 == 0)).Should().Throw<BackupDamagedException>($"{length} of {diff.Length} bytes")
                .WithMessage("*ends inside*");
    }

    [Fact]
    public void A_data_record_claiming_more_bytes_than_follow_is_refused_without_allocating_them()
    {
        var diff = new Diff().Size(1UL << 49).WriteHeaderOnly(0, 1UL << 48).Raw(new byte[100]).Bytes;
        var before = GC.GetAllocatedBytesForCurrentThread();

        foreach (var seekable in new[] { true, false })
            FluentActions.Invoking(() => Read(diff, seekable)).Should().Throw<BackupDamagedException>().WithMessage("*ends inside the data record at image offset 0*");
        FluentActions.Invoking(() => new RbdDiffReader(new MemoryStream(diff), "test.diff").Read(new SkipsData())).Should().Throw<BackupDamagedException>()
            .WithMessage("*holds 281474976710656 bytes but only 100 follow*", "a record skipped by seeking is checked against the file's length");
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(16L << 20, "the reader's memory is one 1 MiB buffer whatever a length says");
    }

    [Fact]
    public void The_block_list_of_a_chain_is_the_hashes_of_the_image_it_describes_and_applying_it_keeps_holes()
    {
        const int block = 1 << 20;
        var full = root.Combine("full.diff");
        File.WriteAllBytes(full, new Diff().Name('t', "one").Size(8 << 20).Write(0, 0x11, 3 << 20).Write((5 << 20) + 100, 0x12, 5000).Write(7 << 20, 0, block).End().Bytes);
        var incremental = root.Combine("incr.diff");
        File.WriteAllBytes(incremental, new Diff().Name('f', "one").Name('t', "two").Size(10 << 20)
            .Write((1 << 20) + 10, 0x21, 20).Zero(2 << 20, block).Zero((5 << 20) + 100, 10).Write(9 << 20, 0x22, 7).End().Bytes);

        var (first, _, fullSha) = RbdDiffBlocks.After([full], [], 0, block, CancellationToken.None);
        var (second, summary, incrementalSha) = RbdDiffBlocks.After([full, incremental], first, 8 << 20, block, CancellationToken.None);

        fullSha.Should().Be(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(full))).ToLowerInvariant(), "the diff is hashed in the read that lists its blocks");
        incrementalSha.Should().Be(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(incremental))).ToLowerInvariant());

        summary.SizeBytes.Should().Be(10 << 20);
        first.Select(b => b.Index).Should().Equal(0, 1, 2, 5);
        first.Should().BeEquivalentTo(HashesOf(Applied(full), block));
        second.Select(b => b.Index).Should().Equal(0, 1, 5, 9);
        second.Should().BeEquivalentTo(HashesOf(Applied(full, incremental), block));
        var image = Applied(full, incremental);
        new FileInfo(image).Length.Should().Be(10 << 20);
        AllocatedBytes(image).Should().BeLessThan(4L << 20, "zeros are punched out, never written (7 MiB of the 10 are holes)");
    }

    [Fact]
    public void Blocks_a_new_diff_covers_whole_are_hashed_from_it_alone_and_the_rest_from_the_chain()
    {
        const int block = 1 << 20;
        var full = root.Combine("full-w.diff");
        File.WriteAllBytes(full, new Diff().Name('t', "one").Size(12 << 20).Write(0, 0x11, 6 << 20).Write(9 << 20, 0x12, 3 << 20).End().Bytes);
        var (first, _, _) = RbdDiffBlocks.After([full], [], 0, block, CancellationToken.None);
        var whole = root.Combine("whole.diff");
        File.WriteAllBytes(whole, new Diff().Name('f', "one").Name('t', "two").Size(12 << 20)
            .Write(0, 0x21, 2 << 20).Write(2 << 20, 0, block).Zero(3 << 20, 2 << 20).Write(8 << 20, 0x22, 4 << 20).End().Bytes);
        var partial = root.Combine("partial.diff");
        File.WriteAllBytes(partial, new Diff().Name('f', "one").Name('t', "two").Size(12 << 20).Write(5000, 0x23, 10).End().Bytes);
        var missing = root.Combine("never-written.diff");

        var (fromWhole, _, _) = RbdDiffBlocks.After([missing, whole], first, 12 << 20, block, CancellationToken.None);

        fromWhole.Should().BeEquivalentTo(HashesOf(Applied(full, whole), block), "the chain before a diff that covers every block it touches is not read");
        FluentActions.Invoking(() => RbdDiffBlocks.After([missing, partial], first, 12 << 20, block, CancellationToken.None)).Should().Throw<Exception>(
            "a block written in part needs the chain");
        RbdDiffBlocks.After([full, partial], first, 12 << 20, block, CancellationToken.None).Blocks.Should().BeEquivalentTo(HashesOf(Applied(full, partial), block));
    }

    private string Applied(params string[] diffs)
    {
        var path = root.Combine($"image-{Guid.NewGuid():N}.raw");
        using var file = Libc.Open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000);
        foreach (var diff in diffs)
            RbdDiffBlocks.ReadDiff(diff, new SparseFileDiffSink(file, path), CancellationToken.None);
        return path;
    }

    private static List<BackupBlock> HashesOf(string image, int block)
    {
        var bytes = File.ReadAllBytes(image);
        return Enumerable.Range(0, (bytes.Length + block - 1) / block)
            .Select(i => (Index: i, Data: bytes.AsSpan(i * block, Math.Min(block, bytes.Length - i * block)).ToArray()))
            .Where(b => b.Data.Any(x => x != 0))
            .Select(b => new BackupBlock(b.Index, b.Data.Length, Convert.ToHexString(SHA256.HashData(b.Data)).ToLowerInvariant(), null, 0))
            .ToList();
    }

    private static long AllocatedBytes(string path) => Libc.Stat(path).AllocatedBytes;

    public void Dispose() => root.Dispose();

    private sealed class SkipsData : IRbdDiffSink
    {
        public void Resize(long sizeBytes) { }
        public bool Wants(long offset, long length) => false;
        public void Data(long offset, ReadOnlySpan<byte> bytes) => throw new InvalidOperationException("skipped data was delivered");
        public void Zero(long offset, long length) { }
    }

    private sealed class NonSeekable(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
