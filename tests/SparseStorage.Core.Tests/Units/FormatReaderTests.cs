using System.Buffers.Binary;
using System.Text;
using SparseStorage.Core.Formats;

namespace SparseStorage.Core.Tests.Units;

/// <summary>The native header readers on headers built byte by byte from the published layouts.</summary>
public class FormatReaderTests
{
    private static byte[] Blank() => new byte[FileSystemSignature.ProbeLength];

    [Theory]
    [InlineData(0x0u, 0x0u, FileSystemType.Ext2)]
    [InlineData(0x4u, 0x0u, FileSystemType.Ext3)]
    [InlineData(0x4u, 0x2C0u, FileSystemType.Ext4)]
    public void Tells_ext2_ext3_and_ext4_apart(uint compat, uint incompat, FileSystemType expected)
    {
        var data = Blank();
        var sb = data.AsSpan(1024);
        BinaryPrimitives.WriteUInt16LittleEndian(sb[56..], 0xEF53);
        BinaryPrimitives.WriteUInt32LittleEndian(sb[92..], compat);
        BinaryPrimitives.WriteUInt32LittleEndian(sb[96..], incompat);
        BinaryPrimitives.WriteUInt32LittleEndian(sb[4..], 262144); // blocks
        BinaryPrimitives.WriteUInt32LittleEndian(sb[24..], 2);      // 4 KiB blocks
        Encoding.ASCII.GetBytes("web01").CopyTo(sb[120..]);
        var found = FileSystemSignature.Detect(data);
        found.Should().Be(new FileSystemSignature(expected, "web01", 1L << 30) { BlockSize = 4096 });
    }

    [Fact]
    public void Reads_xfs_btrfs_and_swap()
    {
        var xfs = Blank();
        "XFSB"u8.CopyTo(xfs);
        BinaryPrimitives.WriteUInt32BigEndian(xfs.AsSpan(4), 4096);
        BinaryPrimitives.WriteUInt64BigEndian(xfs.AsSpan(8), 1000);
        Encoding.ASCII.GetBytes("data").CopyTo(xfs, 108);
        FileSystemSignature.Detect(xfs).Should().Be(new FileSystemSignature(FileSystemType.Xfs, "data", 4096000) { BlockSize = 4096 });

        var btrfs = Blank();
        "_BHRfS_M"u8.CopyTo(btrfs.AsSpan(0x10040));
        BinaryPrimitives.WriteUInt64LittleEndian(btrfs.AsSpan(0x10070), 1L << 30);
        Encoding.ASCII.GetBytes("pool").CopyTo(btrfs, 0x1012b);
        FileSystemSignature.Detect(btrfs).Should().Be(new FileSystemSignature(FileSystemType.Btrfs, "pool", 1L << 30));

        var swap = Blank();
        "SWAPSPACE2"u8.CopyTo(swap.AsSpan(4086));
        BinaryPrimitives.WriteUInt32LittleEndian(swap.AsSpan(1028), 255);
        FileSystemSignature.Detect(swap).Should().Be(new FileSystemSignature(FileSystemType.Swap, null, 256 * 4096));
    }

    [Fact]
    public void Zeros_are_no_filesystem_and_other_data_is_unknown()
    {
        FileSystemSignature.Detect(Blank()).Type.Should().Be(FileSystemType.None);
        var data = Blank();
        data[5000] = 1;
        FileSystemSignature.Detect(data).Type.Should().Be(FileSystemType.Unknown);
        FileSystemSignature.Detect([]).Type.Should().Be(FileSystemType.None);
    }

    [Fact]
    public void Parses_a_qcow2_v3_header_with_backing_file_and_format_extension()
    {
        var data = new byte[4096];
        "QFI"u8.CopyTo(data);
        data[3] = 0xFB;
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(4), 3);
        BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(8), 512);          // backing file offset
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(16), 8);           // its length
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(20), 16);          // 64 KiB clusters
        BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(24), 20L << 30);   // 20 GiB
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(36), 40);          // L1 entries: 20 GiB / 512 MiB per L2 table
        BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(40), 0x30000);     // L1 table offset
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(60), 2);           // snapshots
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(100), 112);        // header length
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(112), 0xE2792ACA); // backing format extension
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(116), 3);
        "raw"u8.CopyTo(data.AsSpan(120));
        "base.img"u8.CopyTo(data.AsSpan(512));

        var header = Qcow2Header.Parse(data);
        header.Version.Should().Be(3);
        header.VirtualSize.Should().Be(20L << 30);
        header.ClusterSize.Should().Be(65536);
        header.BackingFile.Should().Be("base.img");
        header.BackingFormat.Should().Be("raw");
        header.SnapshotCount.Should().Be(2);
        header.IsLuksEncrypted.Should().BeFalse();
    }

    [Fact]
    public void Refuses_what_is_not_qcow2()
    {
        FluentActions.Invoking(() => Qcow2Header.Parse(new byte[512])).Should().Throw<InvalidDataException>();
        var v9 = new byte[512];
        "QFI"u8.CopyTo(v9);
        v9[3] = 0xFB;
        v9[7] = 9;
        FluentActions.Invoking(() => Qcow2Header.Parse(v9)).Should().Throw<InvalidDataException>().WithMessage("*version 9*");
    }

    [Fact]
    public void Parses_a_luks1_header_and_counts_active_slots()
    {
        var data = new byte[LuksHeader.ReadSize];
        new byte[] { (byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xBA, 0xBE, 0, 1 }.CopyTo(data, 0);
        "aes"u8.CopyTo(data.AsSpan(8));
        "xts-plain64"u8.CopyTo(data.AsSpan(40));
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(104), 4096);
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(108), 64);         // key bytes: 250 sectors of key material per slot
        "11111111-2222-3333-4444-555555555555"u8.CopyTo(data.AsSpan(168));
        for (var slot = 0; slot < 8; slot++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(208 + slot * 48), slot is 0 or 2 ? 0x00AC71F3u : 0x0000DEAD);
            BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(208 + slot * 48 + 40), 8 + (uint)slot * 504); // key material offset
            BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(208 + slot * 48 + 44), 4000);                // stripes
        }

        LuksHeader.Parse(data).Should().Be(new LuksHeader(1, "11111111-2222-3333-4444-555555555555", "aes-xts-plain64", 2, 4096L * 512));
    }
}
