using System.Buffers.Binary;
using System.Text;
using SparseStorage.Core.Formats;

namespace SparseStorage.Core.Tests.Units;

public sealed class Qcow2SnapshotTableTests
{
    [Fact]
    public void Parses_an_entry_with_extra_data_and_pads_it_to_eight_bytes()
    {
        var entry = Entry("12", "nightly-1", seconds: 1_700_000_000, vmState32: 5, extra: Extra(vmState64: 7L << 32, diskSize: 20L << 30));

        var (parsed, length) = Qcow2SnapshotTable.Parse(entry);

        parsed.Should().Be(new Qcow2SnapshotEntry("12", "nightly-1", DateTime.UnixEpoch.AddSeconds(1_700_000_000), 7L << 32, 20L << 30));
        length.Should().Be(40 + 16 + 2 + 9 + 5, "40 fixed + 16 extra + 11 of strings, padded to 72");
    }

    [Fact]
    public void Old_entries_without_extra_data_use_the_32_bit_vm_state_size()
    {
        var (parsed, length) = Qcow2SnapshotTable.Parse(Entry("1", "a", seconds: 0, vmState32: 4096, extra: []));
        parsed.VmStateSize.Should().Be(4096);
        parsed.DiskSize.Should().BeNull();
        length.Should().Be(48);
    }

    [Fact]
    public void A_table_cut_short_is_refused()
    {
        var entry = Entry("1", "abc", 0, 0, Extra(0, 0));
        FluentActions.Invoking(() => Qcow2SnapshotTable.Parse(entry.AsSpan(0, 50).ToArray())).Should().Throw<InvalidDataException>();
    }

    [Fact]
    public void A_table_longer_than_the_read_window_is_read_entry_by_entry_to_the_end()
    {
        const int count = 6000; // 6000 entries of 72 bytes: 432,000 bytes, more than one window of the reader
        using var scratch = new Support.TempDirectory("sparse-snapshots");
        var path = scratch.Combine("many.qcow2");
        using (var file = File.Create(path))
        {
            file.Write(new byte[65536]);
            for (var i = 0; i < count; i++)
                file.Write(Entry($"{i % 100:D2}", $"snap{i:D5}", (uint)i, 0, Extra(0, 1L << 30)).AsSpan(0, 72));
        }
        var header = new Qcow2Header(3, 1L << 30, 16, null, null, count, 65536, false, 0, 0);
        using var image = File.OpenHandle(path);

        var entries = Qcow2SnapshotTable.Read(image, header);

        entries.Should().HaveCount(count);
        entries.Select(e => e.Name).Should().Equal(Enumerable.Range(0, count).Select(i => $"snap{i:D5}"));
        FluentActions.Invoking(() => Qcow2SnapshotTable.Read(image, header with { SnapshotCount = count + 1 }))
            .Should().Throw<InvalidDataException>().WithMessage("*ends inside an entry*");
    }

    private static byte[] Extra(long vmState64, long diskSize)
    {
        var extra = new byte[16];
        BinaryPrimitives.WriteInt64BigEndian(extra, vmState64);
        BinaryPrimitives.WriteInt64BigEndian(extra.AsSpan(8), diskSize);
        return extra;
    }

    private static byte[] Entry(string id, string name, uint seconds, uint vmState32, byte[] extra)
    {
        var length = 40 + extra.Length + id.Length + name.Length;
        var data = new byte[(length + 7) / 8 * 8 + 8];
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(12), (ushort)id.Length);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(14), (ushort)name.Length);
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(16), seconds);
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(32), vmState32);
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(36), (uint)extra.Length);
        extra.CopyTo(data, 40);
        Encoding.ASCII.GetBytes(id + name).CopyTo(data, 40 + extra.Length);
        return data;
    }
}
