using SparseStorage.Core.Tests.Fuzzing;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;
using Xunit.Abstractions;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// A pool that a tenant filled with crafted images (the issue's cases and mutations of the fuzz corpus) beside good
/// volumes made by the real creator: listing it finishes quickly and shows every good volume as it is.
/// </summary>
public sealed class CraftedPoolListingTests(ITestOutputHelper output) : IDisposable
{
    private const int MutatedFiles = 48;
    private const int IssueCaseCount = 6;
    private static readonly TimeSpan ListingBound = TimeSpan.FromSeconds(20);
    private readonly TestPool pool = new();
    private int filesWritten;

    [IntegrationFact("qemu-img", "mkfs.ext4", "mkfs.xfs")]
    public void Listing_a_pool_full_of_crafted_headers_finishes_with_every_good_volume_present()
    {
        var context = pool.Context();
        var good = new[]
        {
            pool.CreateVolume(context, "good-raw-ext4", ByteSize.FromMiB(64)),
            pool.CreateVolume(context, "good-raw-xfs", ByteSize.FromMiB(320), fileSystem: FileSystemType.Xfs),
            pool.CreateVolume(context, "good-qcow2-ext4", ByteSize.FromMiB(64), VolumeFormat.Qcow2),
            pool.CreateVolume(context, "good-qcow2-empty", ByteSize.FromGiB(1), VolumeFormat.Qcow2, FileSystemType.None),
        };
        var refused = WriteCraftedFiles();
        refused.Should().Be(IssueCaseCount + MutatedFiles, "the pool must hold the issue's files and mutated ones that a reader refuses");

        var catalog = new VolumeCatalog(context);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var listing = Task.Run(() => catalog.ByName(["*"], TestPool.Name).ToList());
        var described = Task.Run(() => pool.Pools.Get().Single());
        Task.WaitAll([listing, described], ListingBound).Should().BeTrue($"listing a pool must finish within {ListingBound.TotalSeconds} s");

        output.WriteLine($"{listing.Result.Count} volumes listed from {Directory.GetFiles(pool.PoolPath).Length} files ({refused} refused by a reader) " +
            $"in {clock.Elapsed.TotalMilliseconds:F0} ms, with the pool's description alongside");
        foreach (var volume in good)
            listing.Result.Should().ContainSingle(v => v.Path == volume.Path)
                .Which.Should().Match<SparseVolume>(v => v.Format == volume.Format && v.FileSystem == volume.FileSystem && v.SizeBytes == volume.SizeBytes);
        described.Result.VolumeCount.Should().BeGreaterThanOrEqualTo(good.Length);
    }

    /// <summary>
    /// The issue's crafted headers, then mutated corpus images that a reader refuses (mutations every reader accepts
    /// are dropped); returns how many files a reader refuses.
    /// </summary>
    private int WriteCraftedFiles()
    {
        var corpus = CorpusImage.Load();
        var mutator = new HeaderMutator();
        var refused = IssueCases(corpus).Count(WriteRefused);
        for (var attempt = 0; attempt < 50 * MutatedFiles && refused < IssueCaseCount + MutatedFiles; attempt++)
            refused += WriteRefused(mutator.Next(corpus)) ? 1 : 0;
        return refused;
    }

    /// <summary>Writes the input into the pool and keeps it when a reader refuses it.</summary>
    private bool WriteRefused(HeaderMutation input)
    {
        var bytes = input.Apply();
        var path = Path.Combine(pool.PoolPath, $"crafted-{filesWritten++:D4}-{input.Image.Name}");
        WriteSparse(path, bytes);
        if (ReaderHarness.Run(path, bytes[..Math.Min(bytes.Length, Formats.FileSystemSignature.ProbeLength)]) > 0)
            return true;
        File.Delete(path);
        return false;
    }

    private static IEnumerable<HeaderMutation> IssueCases(IReadOnlyList<CorpusImage> corpus)
    {
        CorpusImage Image(string name) => corpus.Single(c => c.Name == name);
        yield return Field(Image("qcow2-v3-ext4.qcow2"), "extension length -16 (spun forever)", 112 + 4, [0xFF, 0xFF, 0xFF, 0xF0]);
        yield return Field(Image("qcow2-v2-ext4.qcow2"), "cluster bits 0", 20, [0, 0, 0, 0]);
        yield return Field(Image("qcow2-v2-ext4.qcow2"), "cluster bits 64", 20, [0, 0, 0, 64]);
        yield return Field(Image("qcow2-snapshots.qcow2"), "snapshot count huge", 60, [0xFF, 0xFF, 0xFF, 0xFF]);
        yield return Field(Image("luks1.img"), "payload offset huge", 104, [0xFF, 0xFF, 0xFF, 0xFF]);
        yield return Field(Image("luks2.img"), "JSON garbage", 4096, "{\"segments\":"u8.ToArray());
    }

    private static HeaderMutation Field(CorpusImage image, string description, long offset, byte[] bytes) =>
        new(image, description, [new BytePatch(offset, bytes)]);

    private static void WriteSparse(string path, byte[] bytes)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
        file.SetLength(bytes.Length);
        var dataEnd = Array.FindLastIndex(bytes, b => b != 0) + 1;
        file.Write(bytes, 0, dataEnd);
    }

    public void Dispose() => pool.Dispose();
}
