using SparseStorage.Core.Copying;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>The sparse copy engine on real files: identical bytes, the same holes, zero blocks turned into holes.</summary>
public sealed class SparseCopyTests : IDisposable
{
    private readonly TempDirectory directory = new("sparse-copy");

    [IntegrationFact("cmp")]
    public void A_20_GiB_image_with_1_GiB_of_scattered_data_copies_byte_identical_and_just_as_sparse()
    {
        var source = directory.Combine("source.img");
        ScatteredImage.Write(source, 20L << 30, chunks: 1024);
        var copy = directory.Combine("copy.img");

        var result = SparseCopier.Copy(source, copy, new SparseCopyOptions());

        result.Method.Should().Be(Host.StorageHostProbe.SupportsReflink(directory.Path) ? CopyMethod.Reflink : CopyMethod.ReadWrite);
        new ProcessRunner().Run(new ToolCommand("cmp", source, copy)).ExitCode.Should().Be(0, "the copy is byte-identical");
        Libc.Stat(copy).Size.Should().Be(20L << 30);
        Libc.Stat(copy).AllocatedBytes.Should().BeCloseTo(Libc.Stat(source).AllocatedBytes, 1 << 20);
    }

    [IntegrationFact("cmp")]
    public void Zero_blocks_inside_allocated_extents_become_holes_with_DetectZeroes()
    {
        var source = directory.Combine("zeros.img");
        ScatteredImage.Write(source, 1L << 30, chunks: 16);
        ScatteredImage.WriteZeros(source, 512L << 20, 64 << 20);
        var plain = directory.Combine("plain.img");
        var detected = directory.Combine("detected.img");

        SparseCopier.Copy(source, plain, new SparseCopyOptions());
        var result = SparseCopier.Copy(source, detected, new SparseCopyOptions { DetectZeroes = true });

        result.Method.Should().Be(CopyMethod.ReadWrite);
        new ProcessRunner().Run(new ToolCommand("cmp", source, detected)).ExitCode.Should().Be(0);
        Libc.Stat(plain).AllocatedBytes.Should().BeGreaterThanOrEqualTo(Libc.Stat(source).AllocatedBytes - (1 << 20));
        Libc.Stat(detected).AllocatedBytes.Should().BeLessThan(Libc.Stat(source).AllocatedBytes - (63L << 20), "the 64 MiB of written zeros are holes in the copy");
    }

    [IntegrationFact]
    public void Cancellation_stops_the_copy()
    {
        var source = directory.Combine("big.img");
        ScatteredImage.Write(source, 4L << 30, chunks: 256);
        using var cancel = new CancellationTokenSource();
        var target = directory.Combine("partial.img");

        FluentActions.Invoking(() => SparseCopier.Copy(source, target, new SparseCopyOptions { DetectZeroes = true }, new SynchronousProgress(cancel), cancel.Token))
            .Should().Throw<OperationCanceledException>();
    }

    [IntegrationFact]
    public void Punching_zero_blocks_keeps_the_content_and_frees_their_space()
    {
        var image = directory.Combine("punch.img");
        ScatteredImage.Write(image, 512L << 20, chunks: 8);
        ScatteredImage.WriteZeros(image, 256L << 20, 32 << 20);
        var before = File.ReadAllBytes(image);
        var allocated = Libc.Stat(image).AllocatedBytes;

        var punched = HolePuncher.PunchZeroBlocks(image, null, CancellationToken.None);

        punched.Should().BeGreaterThanOrEqualTo(32L << 20);
        Libc.Stat(image).AllocatedBytes.Should().BeLessThanOrEqualTo(allocated - (32L << 20));
        File.ReadAllBytes(image).AsSpan().SequenceEqual(before).Should().BeTrue();
    }

    private sealed class SynchronousProgress(CancellationTokenSource cancel) : IProgress<OperationProgress>
    {
        public void Report(OperationProgress value) => cancel.Cancel();
    }

    public void Dispose() => directory.Dispose();
}
