using System.Diagnostics;
using SparseStorage.Core.Backups;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>The in-process sparse tar stream against GNU tar's own, byte for byte, on real sparse files.</summary>
public sealed class SparseTarTests : IDisposable
{
    private readonly TestPool pool = new();

    public static TheoryData<string, long, long[]> Files => new()
    {
        // name, size, offsets of 1 MiB chunks of data (a negative one: that many bytes of data ending at the file's end)
        { "one.img", 64L << 20, [8L << 20] },
        { "ends-in-data.img", (16L << 20) + 1000, [0, -5000] },
        { "holes-only.img", 5000, [] },
        { "many.img", 40L << 30, Enumerable.Range(0, 60).Select(i => (long)i * 677 << 20).ToArray() },
    };

    [IntegrationTheory("tar")]
    [MemberData(nameof(Files))]
    public void The_stream_is_byte_for_byte_what_gnu_tar_writes(string name, long size, long[] chunks)
    {
        var path = Write(name, size, chunks);
        var ours = new MemoryStream();

        SparseTarWriter.For(path)!.Write(ours, CancellationToken.None);

        ours.ToArray().Should().Equal(GnuTar(path), "base-256 numbers, extension blocks and the closing record come out as GNU tar's");
    }

    [IntegrationFact("tar", "zstd")]
    public void An_archive_through_the_pipe_decompresses_to_gnu_tars_stream_and_a_file_that_is_not_sparse_still_goes_through_tar()
    {
        var sparse = Write("piped.img", 3L << 30, [0, 1L << 30, (2L << 30) + (4L << 20)]);
        var full = Write("full.img", 4L << 20, [0, 1L << 20, 2L << 20, 3L << 20]);
        var archives = new ArchiveService(pool.Context());

        foreach (var image in new[] { sparse, full })
        {
            var archive = archives.Apply(archives.Plan(new CompressVolumeRequest(new VolumeCatalog(pool.Context()).Get(image), image + ArchiveService.Extension)));
            Run("zstd", "-dc", archive.Path).Should().Equal(GnuTar(image), $"{Path.GetFileName(image)} archives as tar --sparse | zstd would");
        }
        SparseTarWriter.For(full).Should().BeNull("a file without holes is a plain member, which GNU tar writes");
        ArchiveService.CompressCommand(sparse, "x.tar.zst", 3).Tool.Should().Be("zstd");
    }

    private string Write(string name, long size, long[] chunks)
    {
        var path = Path.Combine(pool.PoolPath, name);
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        file.SetLength(size);
        var random = new Random(size.GetHashCode());
        foreach (var chunk in chunks)
        {
            var bytes = new byte[chunk < 0 ? -chunk : 1 << 20];
            random.NextBytes(bytes);
            file.Position = chunk < 0 ? size + chunk : chunk;
            file.Write(bytes);
        }
        file.Flush(flushToDisk: true);
        return path;
    }

    private static byte[] GnuTar(string path) =>
        Run("tar", "--sparse", "--create", "--file=-", $"--directory={Path.GetDirectoryName(path)}", "--", Path.GetFileName(path));

    private static byte[] Run(string tool, params string[] arguments)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var output = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(output);
        process.WaitForExit();
        process.ExitCode.Should().Be(0, $"{tool} succeeds");
        return output.ToArray();
    }

    public void Dispose() => pool.Dispose();
}
