using SparseStorage.Core.Encryption;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Tests.Fuzzing;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;
using Xunit.Abstractions;

namespace SparseStorage.Core.Tests.Units;

/// <summary>
/// The native readers on a corpus of real headers (Fixtures/, made by make-fixtures.sh) and on mutations of it: every
/// input finishes within a deadline and nothing but InvalidDataException comes out. Deterministic: the seed and the
/// input number in a failure message rebuild the input.
/// </summary>
public sealed class FormatFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int Seed = HeaderMutator.DefaultSeed;
    private static readonly TimeSpan PerInput = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(40);
    private const int RandomInputs = 30_000;
    private readonly TempDirectory scratch = new("sparse-fuzz");

    [Fact]
    public void Every_corpus_image_is_read_as_what_it_is()
    {
        var corpus = CorpusImage.Load();
        corpus.Select(c => c.Name).Should().BeEquivalentTo(
            "btrfs.img", "ext2.img", "ext4.img", "luks1.img", "luks2.img", "swap.img", "xfs.img", "qcow2-backing.qcow2",
            "qcow2-datafile.qcow2", "qcow2-luks.qcow2", "qcow2-snapshots.qcow2", "qcow2-v2-ext4.qcow2", "qcow2-v3-ext4.qcow2");
        var volumes = corpus.ToDictionary(c => c.Name, Inspect);

        volumes["ext4.img"].Should().Match<SparseVolume>(v => v.FileSystem == FileSystemType.Ext4 && v.Label == "tenant-ext4" && v.FileSystemSizeBytes == 8L << 20);
        volumes["ext2.img"].Should().Match<SparseVolume>(v => v.FileSystem == FileSystemType.Ext2 && v.Label == "tenant-ext2");
        volumes["xfs.img"].Should().Match<SparseVolume>(v => v.FileSystem == FileSystemType.Xfs && v.Label == "tenant-xfs" && v.FileSystemSizeBytes == 300L << 20);
        volumes["btrfs.img"].Should().Match<SparseVolume>(v => v.FileSystem == FileSystemType.Btrfs && v.Label == "tenant-btrfs" && v.FileSystemSizeBytes == 128L << 20);
        volumes["swap.img"].Should().Match<SparseVolume>(v => v.FileSystem == FileSystemType.Swap && v.Label == "tenant-swap");
        volumes["qcow2-v2-ext4.qcow2"].Should().Match<SparseVolume>(v => v.Format == VolumeFormat.Qcow2 && v.FileSystem == FileSystemType.Ext4 && v.SizeBytes == 8L << 20);
        volumes["qcow2-v3-ext4.qcow2"].FileSystem.Should().Be(FileSystemType.Ext4);
        volumes["qcow2-backing.qcow2"].BackingFile.Should().Be("qcow2-v3-ext4.qcow2");
        volumes["qcow2-snapshots.qcow2"].SnapshotCount.Should().Be(3);
        volumes["qcow2-luks.qcow2"].Encryption.Should().Be("qcow2 LUKS1 aes-xts-plain64");
        volumes["luks1.img"].Should().Match<SparseVolume>(v => v.Encryption == "LUKS1 aes-xts-plain64" && v.KeySlotCount == 1);
        volumes["luks2.img"].Should().Match<SparseVolume>(v => v.Encryption == "LUKS2 aes-xts-plain64" && v.KeySlotCount == 1);

        var dataFile = Qcow2Header.Parse(corpus.Single(c => c.Name == "qcow2-datafile.qcow2").Bytes.AsSpan(0, 4096));
        dataFile.Should().Match<Qcow2Header>(h => h.HasExternalDataFile && h.DataFile == "qcow2-datafile.raw");
        Qcow2Header.Parse(corpus.Single(c => c.Name == "qcow2-v2-ext4.qcow2").Bytes.AsSpan(0, 4096)).Version.Should().Be(2);
        using var snapshots = Libc.Open(Write(corpus.Single(c => c.Name == "qcow2-snapshots.qcow2")), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        var table = Qcow2SnapshotTable.Read(snapshots, Qcow2Header.Parse(corpus.Single(c => c.Name == "qcow2-snapshots.qcow2").Bytes.AsSpan(0, 4096)));
        table.Select(s => s.Name).Should().Equal("nightly-1", "nightly-2", "before-upgrade");
        ContainerHeader.Read(Write(corpus.Single(c => c.Name == "luks1.img")))!.RegionLength.Should().Be(2L << 20);
    }

    [Fact]
    public void Mutated_headers_are_refused_with_InvalidDataException_only_and_never_hang()
    {
        var corpus = CorpusImage.Load();
        var run = new FuzzRun(scratch.Path, PerInput);
        var sweep = run.Run(HeaderMutator.Sweep(corpus), Budget / 2);
        output.WriteLine($"sweep (extreme values in every header field of {corpus.Count} images, {HeaderMutator.Sweep(corpus).Count():N0} inputs in all): {sweep}");
        var mutator = new HeaderMutator(Seed);
        var random = run.Run(Enumerable.Range(0, RandomInputs).Select(_ => mutator.Next(corpus)), Budget - sweep.Elapsed);
        output.WriteLine($"random mutations (seed {Seed}): {random}");

        sweep.Failures.Concat(random.Failures).Should().BeEmpty("every reader must finish and throw nothing but InvalidDataException");
        sweep.Refused.Should().BeGreaterThan(0, "the sweep writes values the readers must refuse");
        random.Iterations.Should().BeGreaterThan(1000, "the random phase must get to run");
    }

    private string Write(CorpusImage image)
    {
        var path = scratch.Combine(image.Name);
        File.WriteAllBytes(path, image.Bytes);
        return path;
    }

    private SparseVolume Inspect(CorpusImage image) => new VolumeInspector(new AttachmentState([], [], [])).Inspect(Write(image), "corpus");

    public void Dispose() => scratch.Dispose();
}
