using SparseStorage.Core.Backups;
using SparseStorage.Core.Native;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>The backup's read → hash → store pipeline and its data file, on real files.</summary>
public sealed class BlockPipelineTests : IDisposable
{
    private const int BlockSize = 1 << 20;
    private readonly TempDirectory directory = new("sparse-pipeline");

    [IntegrationFact]
    public void Every_data_block_reaches_the_store_once_in_order_with_its_hash_and_bytes()
    {
        var image = directory.Combine("image.img");
        ScatteredImage.Write(image, 256L << 20, chunks: 40);
        var expected = File.ReadAllBytes(image);
        using var handle = Libc.Open(image, Libc.O_RDONLY, 0);
        var scanner = new BlockScanner(handle, expected.Length, BlockSize);
        var blocks = scanner.DataBlocks();
        var stored = new List<(long Index, string Hash, byte[] Bytes)>();

        scanner.Scan(blocks, batch => batch.Where(b => b.Index % 2 == 0).ToList(),
            batch => stored.AddRange(batch.Select(b => (b.Index, b.Hash, b.Data.ToArray()))), CancellationToken.None);

        stored.Select(s => s.Index).Should().Equal(blocks.Where(i => i % 2 == 0));
        foreach (var (index, hash, bytes) in stored)
        {
            bytes.Should().Equal(expected.AsSpan((int)(index * BlockSize), BlockSize).ToArray(), $"block {index} holds the image's bytes");
            hash.Should().Be(BlockScanner.HashOf(bytes));
        }
    }

    [IntegrationFact]
    public void A_failure_in_any_stage_or_a_cancellation_stops_the_scan_and_is_thrown()
    {
        var image = directory.Combine("image.img");
        ScatteredImage.Write(image, 128L << 20, chunks: 30);
        using var handle = Libc.Open(image, Libc.O_RDONLY, 0);
        var scanner = new BlockScanner(handle, 128L << 20, BlockSize);
        var blocks = scanner.DataBlocks();
        using var cancel = new CancellationTokenSource();

        FluentActions.Invoking(() => new BlockScanner(handle, 256L << 20, BlockSize).Scan(blocks.Append(200).ToList(), b => b, _ => { }, CancellationToken.None))
            .Should().Throw<IOException>().WithMessage("*changed during the backup*", "the reader's error comes out of Scan");
        FluentActions.Invoking(() => scanner.Scan(blocks, b => b, _ => throw new IOException("disk full"), CancellationToken.None))
            .Should().Throw<IOException>().WithMessage("disk full");
        FluentActions.Invoking(() => scanner.Scan(blocks, b => { cancel.Cancel(); return b; }, _ => { }, cancel.Token))
            .Should().Throw<OperationCanceledException>();
    }

    [IntegrationFact]
    public void The_data_file_is_written_directly_on_ext4_and_holds_every_block_including_a_short_last_one()
    {
        var image = directory.Combine("odd.img");
        var length = (8L << 20) + 1234;
        File.WriteAllBytes(image, Enumerable.Range(0, (int)length).Select(i => (byte)(i * 7 % 251 + 1)).ToArray());
        var data = directory.Combine("data.bin");
        using (var handle = Libc.Open(image, Libc.O_RDONLY, 0))
        using (var file = BackupDataFile.Create(data, BlockSize))
        {
            file.IsDirect.Should().Be(Libc.DirectIoAlignment(data) is not null, "direct I/O is used wherever the filesystem offers it");
            var scanner = new BlockScanner(handle, length, BlockSize);
            scanner.Scan(scanner.DataBlocks(), b => b, file.Append, CancellationToken.None);
            file.Flush();
            file.Length.Should().Be(length);
        }

        File.ReadAllBytes(data).Should().Equal(File.ReadAllBytes(image));
    }

    public void Dispose() => directory.Dispose();
}
