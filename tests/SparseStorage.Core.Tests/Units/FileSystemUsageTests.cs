using System.Buffers.Binary;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Fuzzing;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

/// <summary>
/// The used space a resize plan reads from a superblock: right on real filesystems (as their own tools count it, and
/// never above the minimum resize2fs -P or btrfs measures), and on crafted superblocks a number within the
/// filesystem's size or an InvalidDataException, nothing else.
/// </summary>
public sealed class FileSystemUsageTests : IDisposable
{
    private const int ExtSuperblock = 1024;
    private const int BtrfsSuperblock = 0x10000;
    private static readonly Lazy<IReadOnlyList<CorpusImage>> Corpus = new(() => CorpusImage.Load());
    private readonly TempDirectory scratch = new("sparse-usage");
    private readonly ProcessRunner runner = new();

    [Theory]
    [InlineData("ext2.img")]
    [InlineData("ext4.img")]
    [InlineData("btrfs.img")]
    public void A_corpus_filesystem_uses_some_but_not_all_of_its_size(string name)
    {
        var image = Image(name);
        var used = FileSystemUsage.UsedBytes(image);
        used.Should().BeGreaterThan(0).And.BeLessThan(FileSystemSignature.Detect(image).SizeBytes);
    }

    [Theory]
    [InlineData("xfs.img")]
    [InlineData("swap.img")]
    [InlineData("luks1.img")]
    public void Filesystems_whose_usage_is_not_read_here_give_null(string name) =>
        FileSystemUsage.UsedBytes(Image(name)).Should().BeNull();

    [Fact]
    public void Zeros_hold_no_filesystem_and_give_null() =>
        FileSystemUsage.UsedBytes(new byte[FileSystemSignature.ProbeLength]).Should().BeNull();

    [Fact]
    public void Ext_counts_take_their_high_halves_where_the_64bit_feature_is_on()
    {
        var image = Image("ext4.img");
        var blockSize = 1024L << (int)BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(ExtSuperblock + 0x18));
        var lowUsed = FileSystemUsage.UsedBytes(image)!.Value;
        SetIncompat64Bit(image);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(ExtSuperblock + 0x150), 1);  // blocks count, high half
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(ExtSuperblock + 0x158), 0);  // free blocks count, high half

        FileSystemUsage.UsedBytes(image).Should().Be(lowUsed + (1L << 32) * blockSize);

        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(ExtSuperblock + 0x158), 1);
        FileSystemUsage.UsedBytes(image).Should().Be(lowUsed);
    }

    [Fact]
    public void More_free_ext_blocks_than_blocks_are_refused()
    {
        var image = Image("ext4.img");
        var blocks = BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(ExtSuperblock + 0x04));
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(ExtSuperblock + 0x0C), blocks + 1);
        Refuses(image, "*free block count*");

        SetIncompat64Bit(image);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(ExtSuperblock + 0x0C), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(ExtSuperblock + 0x158), 1);
        Refuses(image, "*free block count*");
    }

    [Fact]
    public void An_ext_block_count_that_overflows_a_long_in_bytes_is_refused()
    {
        var image = Image("ext4.img");
        SetIncompat64Bit(image);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(ExtSuperblock + 0x150), uint.MaxValue);
        Refuses(image, "*block count*");
    }

    [Theory]
    [InlineData(0x78, ulong.MaxValue, "*bytes used*")]
    [InlineData(0x70, ulong.MaxValue, "*total bytes*")]
    [InlineData(0x70, 4096UL, "*bytes used*")]
    public void Btrfs_bytes_used_beyond_its_total_bytes_are_refused(int field, ulong value, string message)
    {
        var image = Image("btrfs.img");
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(BtrfsSuperblock + field), value);
        Refuses(image, message);
    }

    [Theory]
    [InlineData("ext2.img", ExtSuperblock, 0x160)]
    [InlineData("ext4.img", ExtSuperblock, 0x160)]
    [InlineData("btrfs.img", BtrfsSuperblock, 0x100)]
    public void Random_superblock_values_give_a_size_within_the_filesystem_or_InvalidDataException(string name, int superblock, int length)
    {
        var original = Image(name);
        var random = new Random(20261202);
        for (var input = 0; input < 3000; input++)
        {
            var image = (byte[])original.Clone();
            for (var writes = random.Next(1, 4); writes > 0; writes--)
            {
                var offset = superblock + random.Next(length / 4) * 4;
                BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(offset), random.Next(3) switch { 0 => uint.MaxValue, 1 => (uint)random.Next(), _ => 0 });
            }
            long? used;
            try
            {
                used = FileSystemUsage.UsedBytes(image);
            }
            catch (InvalidDataException)
            {
                continue;
            }
            if (used is { } bytes)
                bytes.Should().BeInRange(0, FileSystemSignature.Detect(image).SizeBytes, $"input {input} of {name}");
        }
    }

    [IntegrationFact("mkfs.ext4", "dumpe2fs", "resize2fs", "mount")]
    public void On_a_real_ext4_filesystem_the_count_is_dumpe2fs_s_and_at_most_the_resize2fs_minimum()
    {
        var image = scratch.Combine("ext4.img");
        using (var file = File.Create(image))
            file.SetLength(256L << 20);
        runner.RunChecked(new ToolCommand("mkfs.ext4", "-q", "-F", "-O", "64bit", image));
        WriteData(image, "ext4", 40 << 20);

        var used = Used(image);
        var super = runner.RunChecked(new ToolCommand("dumpe2fs", "-h", image)).StandardOutput.Split('\n')
            .Select(l => l.Split(':', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0].Trim(), p => p[1].Trim());
        used.Should().Be((long.Parse(super["Block count"]) - long.Parse(super["Free blocks"])) * long.Parse(super["Block size"]));
        used.Should().BeGreaterThan(40L << 20);
        var minimumBlocks = long.Parse(runner.RunChecked(new ToolCommand("resize2fs", "-P", image)).StandardOutput.Split(':')[^1].Trim());
        used.Should().BeLessThanOrEqualTo(minimumBlocks * long.Parse(super["Block size"]), "a plan must never refuse what the run allows");
    }

    [IntegrationFact("mkfs.btrfs", "btrfs", "mount")]
    public void On_a_real_btrfs_filesystem_the_count_is_its_bytes_used_and_at_most_its_minimum_device_size()
    {
        var image = scratch.Combine("btrfs.img");
        using (var file = File.Create(image))
            file.SetLength(512L << 20);
        runner.RunChecked(new ToolCommand("mkfs.btrfs", "-q", "-f", image));
        WriteData(image, "btrfs", 40 << 20);

        var used = Used(image);
        var bytesUsed = runner.RunChecked(new ToolCommand("btrfs", "inspect-internal", "dump-super", image)).StandardOutput.Split('\n')
            .Select(l => l.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)).Single(f => f.Length == 2 && f[0] == "bytes_used")[1];
        used.Should().Be(long.Parse(bytesUsed));
        used.Should().BeGreaterThan(40L << 20);
        var mountPoint = Directory.CreateDirectory(scratch.Combine("min")).FullName;
        runner.RunChecked(new ToolCommand("mount", "-o", "loop", image, mountPoint));
        try
        {
            var minimum = long.Parse(runner.RunChecked(new ToolCommand("btrfs", "inspect-internal", "min-dev-size", mountPoint)).StandardOutput.Split(' ')[0]);
            used.Should().BeLessThanOrEqualTo(minimum, "a plan must never refuse what the run allows");
        }
        finally
        {
            runner.RunChecked(new ToolCommand("umount", mountPoint));
        }
    }

    private void WriteData(string image, string type, int bytes)
    {
        var mountPoint = Directory.CreateDirectory(scratch.Combine("mnt-" + type)).FullName;
        runner.RunChecked(new ToolCommand("mount", "-t", type, "-o", "loop", image, mountPoint));
        try
        {
            File.WriteAllBytes(Path.Combine(mountPoint, "data.bin"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(bytes));
        }
        finally
        {
            runner.RunChecked(new ToolCommand("umount", mountPoint));
        }
    }

    private static long Used(string image)
    {
        var head = new byte[FileSystemSignature.ProbeLength];
        using var handle = File.OpenHandle(image);
        RandomAccess.Read(handle, head, 0);
        return FileSystemUsage.UsedBytes(head)!.Value;
    }

    private static void SetIncompat64Bit(byte[] image)
    {
        var incompat = image.AsSpan(ExtSuperblock + 0x60);
        BinaryPrimitives.WriteUInt32LittleEndian(incompat, BinaryPrimitives.ReadUInt32LittleEndian(incompat) | 0x80);
    }

    private static byte[] Image(string name)
    {
        var bytes = Corpus.Value.Single(c => c.Name == name).Bytes;
        var head = new byte[Math.Max(bytes.Length, FileSystemSignature.ProbeLength)];
        bytes.CopyTo(head, 0);
        return head;
    }

    private static void Refuses(byte[] image, string message) =>
        FluentActions.Invoking(() => FileSystemUsage.UsedBytes(image)).Should().ThrowExactly<InvalidDataException>().WithMessage(message);

    public void Dispose() => scratch.Dispose();
}
