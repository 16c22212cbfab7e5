using System.Buffers.Binary;
using System.Text;
using SparseStorage.Core.Backups;

namespace SparseStorage.Core.Tests.Units;

/// <summary>
/// The writer of RBD diffs made in this process: its bytes are those <c>rbd export-diff</c> writes for the same records
/// (laid out by hand here from doc/dev/rbd-diff.rst), they read back through <see cref="RbdDiffReader"/> record for
/// record, and it refuses to write what the reader would refuse.
/// </summary>
public sealed class RbdDiffWriterTests
{
    /// <summary>The image a diff describes, rebuilt in memory, and the records it held.</summary>
    private sealed class Image : IRbdDiffSink
    {
        public byte[] Bytes { get; private set; } = [];
        public List<string> Records { get; } = [];
        public void Resize(long sizeBytes) => Bytes = new byte[sizeBytes];
        public void Data(long offset, ReadOnlySpan<byte> bytes) => bytes.CopyTo(Bytes.AsSpan((int)offset));
        public void Zero(long offset, long length) => Records.Add($"z {offset} {length}");
    }

    [Fact]
    public void An_incremental_diff_is_laid_out_byte_for_byte_as_rbd_export_diff_writes_it()
    {
        var output = new MemoryStream();
        var writer = new RbdDiffWriter(output);
        writer.Begin("from-é", "to", 1L << 30);
        writer.Data(4096, [1, 2, 3]);
        writer.Zero(8192, 1L << 20);
        writer.End();

        var expected = new MemoryStream();
        expected.Write("rbd diff v1\n"u8);
        expected.Write([(byte)'f', 7, 0, 0, 0]);
        expected.Write(Encoding.UTF8.GetBytes("from-é"));
        expected.Write([(byte)'t', 2, 0, 0, 0, (byte)'t', (byte)'o']);
        expected.Write([(byte)'s', 0, 0, 0, 0x40, 0, 0, 0, 0]);
        expected.Write([(byte)'w', 0, 0x10, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
        expected.Write([(byte)'z', 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0]);
        expected.Write("e"u8);
        output.ToArray().Should().Equal(expected.ToArray());
    }

    [Fact]
    public void A_full_diff_without_a_from_snapshot_reads_back_record_for_record()
    {
        var output = new MemoryStream();
        var writer = new RbdDiffWriter(output);
        var data = Enumerable.Range(0, 5 << 20).Select(i => (byte)(i % 251 + 1)).ToArray();
        writer.Begin(null, "sparsestorage_backup_x", 64L << 20);
        writer.Data(0, data);
        writer.Zero(8L << 20, 4L << 20);
        writer.Data(60L << 20, data.AsSpan(0, 4 << 20));
        writer.End();

        output.Position = 0;
        var image = new Image();
        var summary = new RbdDiffReader(output, "written").Read(image);

        summary.Should().Be(new RbdDiffSummary(null, "sparsestorage_backup_x", 64L << 20, 9L << 20, 4L << 20, 3));
        image.Records.Should().Equal("z 8388608 4194304");
        var expected = new byte[64 << 20];
        data.CopyTo(expected, 0);
        data.AsSpan(0, 4 << 20).CopyTo(expected.AsSpan(60 << 20));
        image.Bytes.AsSpan().SequenceEqual(expected).Should().BeTrue("the data records read back as written");
        BinaryPrimitives.ReadUInt64LittleEndian(output.ToArray().AsSpan(RbdDiffReader.Magic.Length + 5 + 22 + 1)).Should().Be(64UL << 20);
    }

    [Fact]
    public void Records_the_reader_would_refuse_are_not_written()
    {
        var writer = new RbdDiffWriter(new MemoryStream());
        writer.Invoking(w => w.Data(0, [1])).Should().Throw<InvalidOperationException>("the size comes first");
        writer.Begin(null, "to", 1 << 20);
        writer.Invoking(w => w.Zero(0, 0)).Should().Throw<ArgumentOutOfRangeException>("empty");
        writer.Invoking(w => w.Zero((1 << 20) - 10, 11)).Should().Throw<ArgumentOutOfRangeException>("past the image");
        writer.Zero(4096, 4096);
        writer.Invoking(w => w.Data(4096, [1])).Should().Throw<ArgumentOutOfRangeException>("overlapping the record before");
        writer.Invoking(w => w.Begin(null, "again", 1)).Should().Throw<InvalidOperationException>();
        writer.End();
        writer.Invoking(w => w.Zero(1 << 16, 1)).Should().Throw<InvalidOperationException>("nothing follows the end");
        new RbdDiffWriter(new MemoryStream()).Invoking(w => w.Begin("a\nb", "to", 1)).Should().Throw<ArgumentException>();
    }
}
