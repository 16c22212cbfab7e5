using System.Diagnostics;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Resize;

namespace SparseStorage.Bench;

/// <summary>
/// Resize-SparseVolume growing a dismounted 100 GiB raw ext4 volume holding 1 GiB of data to 200 GiB, against the
/// commands a user types by hand for the same job: truncate -s 200G, e2fsck -f -y, resize2fs. Each round works on a
/// fresh copy of the same image for each side, alternating which goes first.
/// </summary>
internal sealed class ResizeBenchmark(BenchEnvironment environment, BenchOptions options, Report report)
{
    private const string Pool = "bench-resize";
    private const long From = 100L << 30;
    private const long To = 200L << 30;
    private const int DataMiB = 1024;

    public void Run()
    {
        var rounds = Math.Clamp(options.Repeats / 5, 2, 5);
        report.Section($"resize: grow a dismounted 100 GiB raw ext4 volume with 1 GiB of data to 200 GiB ({rounds} rounds, median)");
        var pool = environment.NewPool(Pool);
        var master = CreateMaster();
        var (core, bare) = (new List<double>(), new List<double>());
        for (var round = 0; round < rounds; round++)
        {
            var coreCopy = Copy(master, Path.Combine(pool, $"core-{round}.img"));
            var bareCopy = Copy(master, Path.Combine(environment.Scratch("resize-bare"), $"bare-{round}.img"));
            if (round % 2 == 0)
            {
                core.Add(TimeCore(coreCopy));
                bare.Add(TimeBare(bareCopy));
            }
            else
            {
                bare.Add(TimeBare(bareCopy));
                core.Add(TimeCore(coreCopy));
            }
            File.Delete(coreCopy);
            File.Delete(bareCopy);
        }
        var ratio = Stats.Median(core) / Stats.Median(bare);
        report.Line($"Resize-SparseVolume (Core): median {Stats.Seconds(Stats.Median(core))}; by hand: median {Stats.Seconds(Stats.Median(bare))}; ratio {Stats.Ratio(ratio)}");
        report.Summary("resize", "Core grow 100→200 GiB (1 GiB data)", Stats.Seconds(Stats.Median(core)));
        report.Summary("resize", "truncate + e2fsck -f -y + resize2fs", Stats.Seconds(Stats.Median(bare)));
        report.Summary("resize", "ratio Core / by hand", Stats.Ratio(ratio), ratio <= 1.5 ? "≤ 1.5×: met" : "≤ 1.5×: NOT met");
    }

    /// <summary>A 100 GiB ext4 image with 1 GiB of random data written through the filesystem (debugfs-free: a real mount).</summary>
    private string CreateMaster()
    {
        var creator = new VolumeCreator(environment.Context);
        var volume = creator.Create(creator.Plan(new NewVolumeRequest { Name = "master", Pool = Pool, Size = new ByteSize(From), FileSystem = FileSystemType.Ext4 }));
        var mountPoint = environment.Scratch("resize-mnt");
        var mounter = new VolumeMounter(environment.Context);
        var mounted = mounter.Mount(volume, mountPoint, readOnly: false);
        try
        {
            Shell.Run("dd", "if=/dev/urandom", $"of={Path.Combine(mountPoint, "data.bin")}", "bs=1M", $"count={DataMiB}", "status=none");
        }
        finally
        {
            mounter.Dismount(mounted);
        }
        var master = Path.Combine(environment.Scratch("resize-master"), "master.img");
        File.Move(volume.Path, master);
        return master;
    }

    private static string Copy(string source, string destination)
    {
        Shell.Run("cp", "--sparse=always", source, destination);
        Shell.Run("sync");
        return destination;
    }

    private double TimeCore(string path)
    {
        var resizer = new VolumeResizer(environment.Context);
        var clock = Stopwatch.StartNew();
        var volume = new VolumeCatalog(environment.Context).Get(path);
        var result = resizer.Resize(ResizeRequest.To(volume, new ByteSize(To)));
        var elapsed = clock.Elapsed.TotalMilliseconds;
        if (result.NewSizeBytes != To || result.FileSystemSizeBytes != To)
            throw new InvalidOperationException($"Core resized {path} to {result.NewSizeBytes} (filesystem {result.FileSystemSizeBytes}), not {To}");
        return elapsed;
    }

    private static double TimeBare(string path)
    {
        var clock = Stopwatch.StartNew();
        Shell.Run("truncate", "-s", "200G", path);
        var check = Shell.TryRun("e2fsck", "-f", "-y", path);
        if (check.ExitCode > 1)
            throw new InvalidOperationException($"e2fsck failed on {path}: {check.Stderr}");
        Shell.Run("resize2fs", path);
        return clock.Elapsed.TotalMilliseconds;
    }
}
