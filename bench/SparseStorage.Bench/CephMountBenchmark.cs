using System.Diagnostics;
using SparseStorage.Core.Ceph;

namespace SparseStorage.Bench;

/// <summary>
/// A Ceph volume through the module's block path (qemu-storage-daemon driver=rbd, FUSE export, loop device, ext4):
/// mount-to-first-write latency and sequential MB/s with dd, against `rbd bench` on the same cluster.
/// </summary>
internal sealed class CephMountBenchmark(BenchEnvironment environment, BenchOptions options, Report report)
{
    private const string Pool = "bench-ceph-mount";
    private const long VolumeSize = 2L << 30;
    private const int LatencyRounds = 3;
    private long StreamBytes => (long)options.CephStreamMiB << 20;

    public void Run()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            report.Section("cephmount: skipped");
            report.Line("needs root (loop devices, mounts, the lab's network namespaces)");
            return;
        }
        report.Section($"cephmount: mount-to-first-write and sequential {options.CephStreamMiB} MiB through the FUSE path vs rbd bench");
        using var lab = new CephBenchLab(environment, Pool, "bench");
        report.Line($"lab: tests/ceph/lab.sh up in {lab.Directory}: {Stats.F(lab.UpSeconds, "0")} s (3 OSDs on one disk, pool size 3: every byte is written three times)");
        var creation = new CephVolumeCreation(environment.Context);
        var volume = creation.Apply(creation.Plan(new NewVolumeRequest { Name = "fio", Pool = Pool, Size = new ByteSize(VolumeSize), FileSystem = FileSystemType.Ext4 }));
        lab.Admin("rbd", "create", "--size", "2G", "--pool", "rbd", "--namespace", "bench", "--image", "peer");
        var mountPoint = Path.Combine(environment.Root, "ceph-mnt");
        var source = RandomSource();

        var latencies = MountToFirstWrite(volume, mountPoint);
        var peerLatencies = Enumerable.Range(0, LatencyRounds).Select(_ => Time(() => Shell.Run("rbd", lab.ClientRbd("bench", "--io-type", "write", "--io-size", "4K",
            "--io-total", "4K", "--image", "peer")))).ToList();
        report.Line($"rbd bench --io-type write --io-size 4K --io-total 4K (process start, connect, open, one write): {Stats.Spread(peerLatencies)}");

        var (write, read) = Stream(volume, mountPoint, source);
        var peerWrite1 = RbdBench(lab, "write", 1);
        var peerRead1 = RbdBench(lab, "read", 1);
        var peerWrite16 = RbdBench(lab, "write", 16);
        var peerRead16 = RbdBench(lab, "read", 16);

        var latencyRatio = Stats.Median(latencies) / Stats.Median(peerLatencies);
        report.Summary("cephmount", "mount-to-first-write (Mount-SparseVolume + 4 KiB dd oflag=direct)", Stats.Spread(latencies));
        report.Summary("cephmount", "rbd bench, one 4 KiB write (whole process)", Stats.Spread(peerLatencies));
        report.Summary("cephmount", "ratio mount-to-first-write / rbd bench one write", Stats.Ratio(latencyRatio));
        report.Summary("cephmount", "sequential write, dd 4 MiB oflag=direct + fsync", MBps(write));
        report.Summary("cephmount", "sequential read, dd 4 MiB iflag=direct (caches dropped)", MBps(read));
        report.Summary("cephmount", "rbd bench seq write 4 MiB, 1 / 16 threads", $"{MBps(peerWrite1)} / {MBps(peerWrite16)}");
        report.Summary("cephmount", "rbd bench seq read 4 MiB, 1 / 16 threads", $"{MBps(peerRead1)} / {MBps(peerRead16)}");
        report.Summary("cephmount", "ratio module / rbd bench 1 thread, write · read", $"{Stats.Ratio(write / peerWrite1)} · {Stats.Ratio(read / peerRead1)}");
        report.Summary("cephmount", "ratio module / rbd bench 16 threads, write · read", $"{Stats.Ratio(write / peerWrite16)} · {Stats.Ratio(read / peerRead16)}");
    }

    /// <summary>Random bytes of the stream's size in the working directory (in the page cache), so dd's source costs nothing measurable.</summary>
    private string RandomSource()
    {
        var path = Path.Combine(environment.Scratch("ceph-source"), "random.bin");
        var buffer = new byte[4 << 20];
        var random = new Random(16);
        using (var file = File.Create(path))
            for (long written = 0; written < StreamBytes; written += buffer.Length)
            {
                random.NextBytes(buffer);
                file.Write(buffer);
            }
        PageCache.Load(path);
        return path;
    }

    /// <summary>Mount-SparseVolume's plan and apply, then one 4 KiB direct, synced write; dismounted after each round (not timed).</summary>
    private List<double> MountToFirstWrite(SparseVolume volume, string mountPoint)
    {
        var times = new List<double>();
        for (var round = 0; round <= LatencyRounds; round++)
        {
            var clock = Stopwatch.StartNew();
            Mount(volume, mountPoint);
            try
            {
                Shell.Run("dd", "if=/dev/zero", $"of={Path.Combine(mountPoint, $"first-{round}")}", "bs=4k", "count=1", "oflag=direct", "conv=fsync", "status=none");
                if (round > 0)
                    times.Add(clock.Elapsed.TotalMilliseconds);
            }
            finally
            {
                Dismount(volume);
            }
        }
        report.Line($"mount-to-first-write, Mount-SparseVolume (plan + apply: lock, qemu-storage-daemon, losetup, mount) + dd 4 KiB oflag=direct conv=fsync: " +
                    $"{Stats.Spread(times)} (round 0, JIT and cache warm-up, not counted)");
        return times;
    }

    /// <summary>dd of the random source into the mounted volume (4 MiB blocks, O_DIRECT, fsync) and back out after the caches are dropped; MB/s each.</summary>
    private (double Write, double Read) Stream(SparseVolume volume, string mountPoint, string source)
    {
        Mount(volume, mountPoint);
        try
        {
            var target = Path.Combine(mountPoint, "stream.bin");
            var count = (StreamBytes >> 22).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var writeMs = Time(() => Shell.Run("dd", $"if={source}", $"of={target}", "bs=4M", $"count={count}", "oflag=direct", "conv=fsync", "status=none"));
            PageCache.Drop();
            var readMs = Time(() => Shell.Run("dd", $"if={target}", "of=/dev/null", "bs=4M", "iflag=direct", "status=none"));
            var same = Shell.Run("cmp", source, target).Length == 0;
            report.Line($"dd write {options.CephStreamMiB} MiB (bs=4M oflag=direct conv=fsync): {Stats.Ms(writeMs)}, {MBps(StreamBytes / (writeMs / 1000))}");
            report.Line($"dd read back (caches dropped, bs=4M iflag=direct): {Stats.Ms(readMs)}, {MBps(StreamBytes / (readMs / 1000))}; " +
                        $"cmp with the source: {(same ? "identical" : "DIFFERENT")}");
            return (StreamBytes / (writeMs / 1000), StreamBytes / (readMs / 1000));
        }
        finally
        {
            Dismount(volume);
        }
    }

    /// <summary>rbd bench sequential 4 MiB I/O of the stream's size on the peer image; bytes per second of the whole process's wall time.</summary>
    private double RbdBench(CephBenchLab lab, string ioType, int threads)
    {
        var milliseconds = Time(() => Shell.Run("rbd", lab.ClientRbd("bench", "--io-type", ioType, "--io-size", "4M", "--io-threads",
            threads.ToString(System.Globalization.CultureInfo.InvariantCulture), "--io-total", $"{options.CephStreamMiB}M", "--io-pattern", "seq", "--image", "peer")));
        var rate = StreamBytes / (milliseconds / 1000);
        report.Line($"rbd bench --io-type {ioType} --io-size 4M --io-threads {threads} --io-pattern seq --io-total {options.CephStreamMiB}M: {Stats.Ms(milliseconds)}, {MBps(rate)}");
        return rate;
    }

    private void Mount(SparseVolume volume, string mountPoint)
    {
        var mounting = new CephVolumeMounting(environment.Context);
        mounting.Apply(mounting.Plan(new MountCephVolumeRequest(volume, mountPoint)));
    }

    private void Dismount(SparseVolume volume)
    {
        var mounting = new CephVolumeMounting(environment.Context);
        mounting.Apply(mounting.Plan(new DismountVolumeRequest(volume)));
    }

    private static double Time(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalMilliseconds;
    }

    private static string MBps(double bytesPerSecond) => Stats.F(bytesPerSecond / 1e6, "0.0") + " MB/s";
}
