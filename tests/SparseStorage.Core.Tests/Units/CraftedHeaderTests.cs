using System.Buffers.Binary;
using System.Text;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Native;
using SparseStorage.Core.Tests.Fuzzing;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

/// <summary>
/// The crafted headers of issue 16, each on a real header from the corpus: the reader refuses them with an
/// InvalidDataException that names the field, within a deadline (one of them used to spin forever).
/// </summary>
public sealed class CraftedHeaderTests : IDisposable
{
    private static readonly Lazy<IReadOnlyList<CorpusImage>> Corpus = new(() => CorpusImage.Load());
    private readonly TempDirectory scratch = new("sparse-crafted");

    [Theory]
    [InlineData(0xFFFFFFFFu)]
    [InlineData(0xFFFFFFF8u)]
    [InlineData(0xFFFFFFF0u)] // as an int -16: the old walk added 8 + (-16 + 7) / 8 * 8 = 0 and never moved on
    [InlineData(0x80000000u)]
    [InlineData(0x7FFFFFFFu)]
    [InlineData(4096u)]
    public void A_qcow2_extension_length_past_the_header_is_refused(uint length)
    {
        var image = Image("qcow2-v3-ext4.qcow2");
        var firstExtension = (int)BinaryPrimitives.ReadUInt32BigEndian(image.AsSpan(100));
        BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(firstExtension + 4), length);

        Refuses(() => Qcow2Header.Parse(image.AsSpan(0, 4096)), "*extension*length*");
    }

    [Fact]
    public void A_repeated_data_file_extension_is_refused_since_qemu_would_follow_the_last_one()
    {
        var image = Image("qcow2-datafile.qcow2");
        var extensions = (int)BinaryPrimitives.ReadUInt32BigEndian(image.AsSpan(100));
        byte[] repeated = [0x44, 0x41, 0x54, 0x41, 0, 0, 0, 11, .. "/etc/shadow"u8, 0, 0, 0, 0, 0];
        var tail = image.AsSpan(extensions, 1024).ToArray();
        repeated.CopyTo(image, extensions);
        tail.CopyTo(image, extensions + repeated.Length);

        Refuses(() => Qcow2Header.Parse(image.AsSpan(0, 4096)), "*0x44415441 appears more than once*");
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(8u)]
    [InlineData(22u)]
    [InlineData(64u)]
    [InlineData(0xFFFFFFFFu)]
    public void Qcow2_cluster_bits_outside_9_to_21_are_refused(uint bits)
    {
        var image = Image("qcow2-v2-ext4.qcow2");
        BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(20), bits);
        Refuses(() => Qcow2Header.Parse(image.AsSpan(0, 4096)), $"qcow2 cluster bits {bits} is out of range 9..21");
    }

    [Theory]
    [InlineData(60, 65537u, "*snapshot count*")]
    [InlineData(60, 0xFFFFFFFFu, "*snapshot count*")]
    [InlineData(36, 0xFFFFFFFFu, "*L1 size*")]
    [InlineData(36, 0u, "*L1 size*")]
    [InlineData(16, 1024u, "*backing file name length*")]
    [InlineData(4, 4u, "*version 4*")]
    [InlineData(32, 7u, "*encryption method*")]
    [InlineData(100, 0xFFFFFFFFu, "*header length*")]
    public void Qcow2_counts_and_lengths_beyond_qemus_limits_are_refused(int field, uint value, string message)
    {
        var image = Image("qcow2-backing.qcow2");
        BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(field), value);
        Refuses(() => Qcow2Header.Parse(image.AsSpan(0, 4096)), message);
    }

    [Theory]
    [InlineData(36, 0xFFFFFFFFu, "*extra data length*")]
    [InlineData(12, 0xFFFF0000u, "*ends inside an entry*")]
    public void A_snapshot_entry_whose_lengths_run_past_the_table_is_refused(int field, uint value, string message)
    {
        var image = Image("qcow2-snapshots.qcow2");
        var header = Qcow2Header.Parse(image.AsSpan(0, 4096));
        BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan((int)header.SnapshotsOffset + field), value);
        var path = Write("snapshots.qcow2", image);

        Refuses(() =>
        {
            using var handle = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            Qcow2SnapshotTable.Read(handle, header);
        }, message);
    }

    [Fact]
    public void A_snapshot_count_the_header_record_cannot_have_is_refused_by_the_table_reader()
    {
        var image = Image("qcow2-snapshots.qcow2");
        var header = Qcow2Header.Parse(image.AsSpan(0, 4096)) with { SnapshotCount = int.MaxValue };
        using var handle = Libc.Open(Write("snapshots.qcow2", image), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        Refuses(() => Qcow2SnapshotTable.Read(handle, header), "*snapshot count*");
    }

    [Theory]
    [InlineData(0xFFFFFFFFu)]
    [InlineData(0x00100000u)]
    public void A_luks_payload_offset_past_the_end_of_the_file_is_refused(uint sectors)
    {
        var image = Image("luks1.img")[..4096];
        BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(104), sectors);
        var path = Write("tiny-luks.img", image);

        Refuses(() => ContainerHeader.Read(path), "LUKS1 payload offset * lies beyond the end of the container (4096 bytes)");
    }

    [Theory]
    [InlineData(104, 0u, "*payload offset*")]
    [InlineData(108, 0u, "*key bytes*")]
    [InlineData(108, 0xFFFFFFFFu, "*key bytes*")]
    [InlineData(208, 0x12345678u, "*key slot 0 state*")]
    [InlineData(208 + 40, 0u, "*key slot 0 key material offset*")]
    [InlineData(208 + 48 + 40, 8u, "*overlaps*")]
    [InlineData(208 + 44, 1u, "*key slot 0 stripes*")]
    public void Luks1_key_slot_fields_are_checked_as_cryptsetup_does(int field, uint value, string message)
    {
        var image = Image("luks1.img");
        BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(field), value);
        Refuses(() => LuksHeader.Parse(image.AsSpan(0, LuksHeader.ReadSize), image.Length), message);
    }

    [Theory]
    [InlineData("", "*not valid JSON*")]
    [InlineData("{", "*not valid JSON*")]
    [InlineData("LUKS garbage", "*not valid JSON*")]
    [InlineData("[]", "*LUKS2 metadata is not a JSON object*")]
    [InlineData("{}", "*lacks \"segments\"*")]
    [InlineData("{\"segments\":[]}", "*LUKS2 segments is not a JSON object*")]
    [InlineData("{\"segments\":{}}", "*has no segment*")]
    [InlineData("{\"segments\":{\"x\":{}}}", "*segment id \"x\"*")]
    [InlineData("{\"segments\":{\"0\":{\"offset\":-1}}}", "*segment offset is not a decimal number string*")]
    [InlineData("{\"segments\":{\"0\":{\"offset\":\"99999999999999999999999\"}}}", "*segment offset is not a decimal number string*")]
    [InlineData("{\"segments\":{\"0\":{\"offset\":\"18446744073709551615\"}}}", "*segment offset*out of range*")]
    [InlineData("{\"segments\":{\"0\":{\"offset\":\"0\"}}}", "*segment offset 0 is out of range*")]
    [InlineData("{\"segments\":{\"0\":{\"offset\":\"2097152\"}},\"keyslots\":{\"0\":{\"area\":{\"offset\":\"2097152\",\"size\":\"4096\"}}}}", "*keyslot 0 area size*")]
    [InlineData("{\"segments\":{\"0\":{\"offset\":\"2097152\"}},\"keyslots\":{\"99\":{}}}", "*keyslot 99 id*")]
    [InlineData("{\"segments\":{\"0\":{\"offset\":\"2097152\"}},\"keyslots\":{}}", "*lacks \"encryption\"*")]
    public void Luks2_json_that_is_garbage_or_breaks_a_rule_is_refused(string json, string message) =>
        Luks2_json_bytes_that_are_not_utf8_or_nest_too_deep_are_refused(Encoding.UTF8.GetBytes(json), message);

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xFE }, "*not valid UTF-8*")]
    [InlineData(new byte[] { 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B, 0x5B }, "*not valid JSON*")]
    public void Luks2_json_bytes_that_are_not_utf8_or_nest_too_deep_are_refused(byte[] json, string message)
    {
        var image = Image("luks2.img");
        image.AsSpan(4096, 12288).Clear();
        json.CopyTo(image, 4096);
        Refuses(() => LuksHeader.Parse(image.AsSpan(0, LuksHeader.ReadSize), image.Length), message);
    }

    [Theory]
    [InlineData(8, 0x10000000u, "*header size*")]
    [InlineData(8, 0u, "*header size*")]
    public void Luks2_binary_header_sizes_are_checked(int field, uint value, string message)
    {
        var image = Image("luks2.img");
        BinaryPrimitives.WriteUInt64BigEndian(image.AsSpan(field), value);
        Refuses(() => LuksHeader.Parse(image.AsSpan(0, LuksHeader.ReadSize), image.Length), message);
    }

    [Theory]
    [InlineData("ext4.img", 1024 + 24, 40u, false, "ext superblock log block size 40*")]
    [InlineData("xfs.img", 4, 0u, true, "xfs superblock block size 0*")]
    [InlineData("xfs.img", 4, 4097u, true, "*not a power of two*")]
    public void Superblock_sizes_out_of_range_are_refused(string fixture, int field, uint value, bool bigEndian, string message)
    {
        var image = Image(fixture);
        if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(field), value);
        else BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(field), value);
        Refuses(() => FileSystemSignature.Detect(image), message);
    }

    [Fact]
    public void Sizes_that_overflow_a_long_are_refused()
    {
        var xfs = Image("xfs.img");
        BinaryPrimitives.WriteUInt64BigEndian(xfs.AsSpan(8), ulong.MaxValue);
        Refuses(() => FileSystemSignature.Detect(xfs), "*data block count*");
        var btrfs = Image("btrfs.img");
        BinaryPrimitives.WriteUInt64LittleEndian(btrfs.AsSpan(0x10070), ulong.MaxValue);
        Refuses(() => FileSystemSignature.Detect(btrfs), "*total bytes*");
        Refuses(() => FileSystemSignature.Detect("XFSB"u8), "*cut short*");
    }

    private static byte[] Image(string name) => (byte[])Corpus.Value.Single(c => c.Name == name).Bytes.Clone();

    private string Write(string name, byte[] bytes)
    {
        var path = scratch.Combine(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Runs the read on a worker: it must finish within a few seconds and throw InvalidDataException matching the message.</summary>
    private static void Refuses(Action read, string message)
    {
        var worker = Task.Run(read);
        FluentActions.Invoking(() => worker.Wait(TimeSpan.FromSeconds(10))).Should().Throw<AggregateException>("the read must finish within 10 s and fail")
            .WithInnerExceptionExactly<InvalidDataException>().WithMessage(message);
    }

    public void Dispose() => scratch.Dispose();
}
