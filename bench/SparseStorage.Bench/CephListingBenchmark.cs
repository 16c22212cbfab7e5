using System.Diagnostics;
using System.Text.Json;
using SparseStorage.Core.Ceph;

namespace SparseStorage.Bench;

/// <summary>
/// Get-SparseVolume over 1,000 RBD images of a Ceph pool (VolumeCatalog.ByName(["*"], pool), as the cmdlet calls it)
/// against `rbd info --format json` once per image and against one `rbd ls -l --format json`, on a lab cluster of
/// its own.
/// </summary>
internal sealed class CephListingBenchmark(BenchEnvironment environment, BenchOptions options, Report report)
{
    private const string Pool = "bench-ceph";
    private const long ImageSize = 1L << 30;
    private const int LockedEvery = 100;
    private int Images => options.CephImages;

    public void Run()
    {
        report.Section($"cephlist: Get-SparseVolume over {Images} RBD images vs rbd info per image and rbd ls -l");
        using var lab = new CephBenchLab(environment, Pool, "bench");
        report.Line($"lab: tests/ceph/lab.sh up in {lab.Directory}: {Stats.F(lab.UpSeconds, "0")} s (1 mon, 1 mgr, 3 OSDs, pool rbd size 3), namespace bench, client sparse");
        var names = Enumerable.Range(0, Images).Select(i => $"vm-{i:D5}").ToList();
        var clock = Stopwatch.StartNew();
        lab.CreateImages(names, ImageSize, PoolFixture.MakeExt4Head(environment.Scratch("ceph-templates")),
            i => i % 2 == 0, i => i % LockedEvery == 0 ? $"node{i / LockedEvery}" : null);
        report.Line($"setup (librbd in this process, not timed below): {Images} thin images of 1 GiB, every second one with the first 68 KiB " +
                    $"of an ext4 image, every {LockedEvery}th holding this module's mount lock; {Stats.Seconds(clock.Elapsed.TotalMilliseconds)}");

        var (first, warm) = (Scan(), Scan());
        report.Line($"Core, first run (JIT cold; librados connects): {Stats.Ms(first.Milliseconds)}, {Stats.Ms(first.Milliseconds / first.Count)} per image");
        report.Line($"Core, warm run: {Stats.Ms(warm.Milliseconds)}, {Stats.Ms(warm.Milliseconds / warm.Count)} per image");
        Verify(warm);
        Breakdown();
        var list = TimeList(lab);
        var info = TimeInfo(lab, names);
        var infoRatio = info.TotalMs / warm.Milliseconds;
        var listRatio = list / warm.Milliseconds;
        report.Line($"ratio rbd info per image / Core: {Stats.Ratio(infoRatio)} (warm), {Stats.Ratio(info.TotalMs / first.Milliseconds)} (first run)");
        report.Line($"ratio rbd ls -l / Core: {Stats.Ratio(listRatio)} (warm): one rbd ls -l gives names, sizes and parents only; " +
                    "Core adds rbd du (used bytes), each image's filesystem and mount holder");
        report.Summary("cephlist", "Core warm run", $"{Stats.Ms(warm.Milliseconds)} for {warm.Count} ({Stats.Ms(warm.Milliseconds / warm.Count)}/image)");
        report.Summary("cephlist", "Core first run", $"{Stats.Ms(first.Milliseconds)} for {first.Count}");
        report.Summary("cephlist", "rbd info per image", $"{Stats.Seconds(info.TotalMs)} for {info.Total}" + (info.Extrapolated ? $" (extrapolated from {info.Measured})" : " (measured on all)"));
        report.Summary("cephlist", "rbd ls -l, one process", $"median {Stats.Ms(list)}");
        report.Summary("cephlist", "ratio rbd info per image / Core (warm)", Stats.Ratio(infoRatio));
        report.Summary("cephlist", "ratio rbd ls -l / Core (warm)", Stats.Ratio(listRatio));
    }

    /// <summary>Where a listing's time goes: the two rbd processes (run at once), then the librados pass over every image.</summary>
    private void Breakdown()
    {
        var pool = new CephPool(environment.Context.Runner, environment.Context.Pools.Find(Pool));
        var clock = Stopwatch.StartNew();
        var images = pool.Images();
        var processes = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        var heads = RadosHeads.Read(pool.Settings, images);
        var rados = clock.Elapsed.TotalMilliseconds;
        report.Line($"of a listing: rbd ls --long and rbd du (run at the same time) {Stats.Ms(processes)}; librados pass over {heads.Count} images " +
                    $"(first object and mount-lock lockers of each, up to 8 in flight) {Stats.Ms(rados)}, {Stats.Ms(rados / Math.Max(1, heads.Count))} per image");
    }

    private sealed record CephScan(int Count, int Ext4, int Blank, int Held, int WrongSize, double Milliseconds);

    private CephScan Scan()
    {
        int count = 0, ext4 = 0, blank = 0, held = 0, wrongSize = 0;
        var clock = Stopwatch.StartNew();
        foreach (var volume in new VolumeCatalog(environment.Context).ByName(["*"], Pool))
        {
            count++;
            ext4 += volume.FileSystem == FileSystemType.Ext4 ? 1 : 0;
            blank += volume.FileSystem == FileSystemType.None ? 1 : 0;
            held += volume.MountedOn is not null ? 1 : 0;
            wrongSize += volume.SizeBytes == ImageSize ? 0 : 1;
        }
        return new CephScan(count, ext4, blank, held, wrongSize, clock.Elapsed.TotalMilliseconds);
    }

    private void Verify(CephScan scan)
    {
        var lockedCount = (Images + LockedEvery - 1) / LockedEvery;
        var correct = scan.Count == Images && scan.Ext4 == (Images + 1) / 2 && scan.Blank == Images / 2 && scan.Held == lockedCount && scan.WrongSize == 0;
        report.Line($"Core found {scan.Count} images: {scan.Ext4} ext4, {scan.Blank} without a filesystem, {scan.Held} mounted on a host (MountedOn), " +
                    $"{scan.WrongSize} of another size — {(correct ? "as created" : "MISMATCH with what was created")}");
    }

    /// <summary>The median of 5 runs of one `rbd ls -l --format json`, its JSON parsed and counted.</summary>
    private double TimeList(CephBenchLab lab)
    {
        var times = new List<double>();
        for (var run = 0; run < 5; run++)
        {
            var clock = Stopwatch.StartNew();
            var (exitCode, stdout, stderr) = Shell.TryRun("rbd", lab.ClientRbd("ls", "-l", "--format", "json"));
            using var json = exitCode == 0 ? JsonDocument.Parse(stdout) : throw new InvalidOperationException($"rbd ls -l failed: {stderr}");
            var listed = json.RootElement.GetArrayLength();
            times.Add(clock.Elapsed.TotalMilliseconds);
            if (listed != Images)
                report.Line($"rbd ls -l listed {listed} images, not {Images}");
        }
        report.Line($"rbd ls -l --format json, one process: {Stats.Spread(times)}");
        return Stats.Median(times);
    }

    /// <summary>`rbd info --format json IMAGE` once per image, sequentially; sampled and extrapolated when a pilot predicts more than the budget.</summary>
    private QemuInfoResult TimeInfo(CephBenchLab lab, IReadOnlyList<string> names)
    {
        var shuffled = names.ToArray();
        new Random(1_000_003).Shuffle(shuffled);
        var pilot = TimeInfo(lab, shuffled[..Math.Min(20, shuffled.Length)], names.Count);
        var chosen = pilot.TotalMs <= options.QemuBudget.TotalMilliseconds ? names : shuffled[..Math.Min(200, shuffled.Length)];
        var result = TimeInfo(lab, chosen, names.Count);
        report.Line($"rbd info pilot: {pilot.Measured} images, {Stats.Ms(pilot.PerVolumeMs)} each, predicts {Stats.Seconds(pilot.TotalMs)} for all");
        report.Line($"rbd info --format json, one process per image: {Stats.Seconds(result.TotalMs)} " +
                    (result.Extrapolated ? $"EXTRAPOLATED from a random sample of {result.Measured}" : $"measured on all {result.Total}") +
                    $", {Stats.Ms(result.PerVolumeMs)} per image, {result.Failures} failed or reported another size");
        return result;
    }

    private static QemuInfoResult TimeInfo(CephBenchLab lab, IReadOnlyList<string> names, int total)
    {
        var failures = 0;
        var clock = Stopwatch.StartNew();
        foreach (var name in names)
        {
            var (exitCode, stdout, _) = Shell.TryRun("rbd", lab.ClientRbd("info", "--format", "json", "--image", name));
            if (exitCode != 0)
            {
                failures++;
                continue;
            }
            using var json = JsonDocument.Parse(stdout);
            failures += json.RootElement.GetProperty("size").GetInt64() == ImageSize ? 0 : 1;
        }
        return new QemuInfoResult(names.Count, total, clock.Elapsed.TotalMilliseconds, failures);
    }
}
