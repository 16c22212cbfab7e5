using System.Diagnostics;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Bench;

/// <summary>One pass of Get-SparseVolume over a pool: how long, and what it found.</summary>
internal sealed record ScanResult(int Count, int RawExt4, int Qcow2Blank, int WrongSize, double Milliseconds);

/// <summary>
/// Get-SparseVolume over N volumes (VolumeCatalog.ByName(["*"], pool)) against one `qemu-img info` per volume,
/// and the memory the listing keeps while it streams N/10 and N volumes.
/// </summary>
internal sealed class ListingBenchmark(BenchEnvironment environment, BenchOptions options, Report report)
{
    private const string Pool = "bench";
    private const string TenthPool = "bench-tenth";
    private int Volumes => options.Volumes;
    private int Tenth => Math.Max(1, options.Volumes / 10);

    public void Run()
    {
        report.Section($"listing: Get-SparseVolume over {Volumes} volumes vs qemu-img info per volume");
        var poolPath = Populate();
        var (first, warm) = TimeCore();
        var qemu = TimeQemu(poolPath);
        ReportRatios(first, warm, qemu);
        MeasureMemory(poolPath);
    }

    private string Populate()
    {
        var fixture = new PoolFixture(environment.Scratch("templates"));
        var pool = environment.NewPool(Pool);
        fixture.Populate(pool, Volumes);
        fixture.Populate(environment.NewPool(TenthPool), Tenth);
        report.Line($"pool {pool} on {environment.FileSystemType}: {Volumes} volumes of 1 GiB, " +
                    $"{(Volumes + 1) / 2} raw (ext4 superblock in the first 68 KiB), {Volumes / 2} qcow2 (copies of one `qemu-img create -f qcow2 x 1G`)");
        if (environment.FileSystemType == "tmpfs")
            report.Line("WARNING: the pool is on tmpfs, not on a disk; give --base a directory on a real disk");
        return pool;
    }

    private (ScanResult First, ScanResult Warm) TimeCore()
    {
        var dropped = PageCache.Drop();
        var first = Scan();
        var warm = Scan();
        report.Line($"Core, first run ({(dropped ? "page cache dropped before it" : "page cache NOT dropped: not permitted")}): " +
                    $"{Stats.Ms(first.Milliseconds)}, {Stats.Us(first.Milliseconds * 1000 / first.Count)} per volume");
        report.Line($"Core, warm run: {Stats.Ms(warm.Milliseconds)}, {Stats.Us(warm.Milliseconds * 1000 / warm.Count)} per volume");
        Verify(warm);
        report.Summary("listing", "Core first run" + (dropped ? " (page cache dropped)" : ""), $"{Stats.Ms(first.Milliseconds)} for {first.Count}");
        report.Summary("listing", "Core warm run", $"{Stats.Ms(warm.Milliseconds)} for {warm.Count} ({Stats.Us(warm.Milliseconds * 1000 / warm.Count)}/volume)");
        return (first, warm);
    }

    private ScanResult Scan()
    {
        int count = 0, rawExt4 = 0, qcow2Blank = 0, wrongSize = 0;
        var clock = Stopwatch.StartNew();
        foreach (var volume in new VolumeCatalog(environment.Context).ByName(["*"], Pool))
        {
            count++;
            rawExt4 += volume is { Format: VolumeFormat.Raw, FileSystem: FileSystemType.Ext4 } ? 1 : 0;
            qcow2Blank += volume is { Format: VolumeFormat.Qcow2, FileSystem: FileSystemType.None } ? 1 : 0;
            wrongSize += volume.SizeBytes == PoolFixture.VirtualSize ? 0 : 1;
        }
        return new ScanResult(count, rawExt4, qcow2Blank, wrongSize, clock.Elapsed.TotalMilliseconds);
    }

    private void Verify(ScanResult scan)
    {
        var correct = scan.Count == Volumes && scan.RawExt4 == (Volumes + 1) / 2 && scan.Qcow2Blank == Volumes / 2 && scan.WrongSize == 0;
        report.Line($"Core found {scan.Count} volumes: {scan.RawExt4} raw+ext4, {scan.Qcow2Blank} qcow2 (no filesystem), " +
                    $"{scan.WrongSize} with a virtual size other than 1 GiB — {(correct ? "as created" : "MISMATCH with what was created")}");
    }

    private QemuInfoResult TimeQemu(string poolPath)
    {
        var files = PoolService.VolumeFiles(poolPath).ToList();
        var (pilot, qemu) = new QemuInfoTimer(options.QemuBudget, PoolFixture.VirtualSize).Measure(files);
        report.Line($"qemu-img info pilot: {pilot.Measured} random volumes, {Stats.Ms(pilot.PerVolumeMs)} each, " +
                    $"predicts {Stats.Seconds(pilot.TotalMs)} for all {files.Count} (budget {options.QemuBudget.TotalMinutes:0} min)");
        var how = qemu.Extrapolated
            ? $"EXTRAPOLATED to {qemu.Total} from a random sample of {qemu.Measured} ({Stats.Seconds(qemu.MeasuredMs)} measured)"
            : $"measured on all {qemu.Total}";
        report.Line($"qemu-img info --output=json, one process per volume: {Stats.Seconds(qemu.TotalMs)} {how}, " +
                    $"{Stats.Ms(qemu.PerVolumeMs)} per volume, {qemu.Failures} failed or reported a wrong size");
        report.Summary("listing", "qemu-img info per volume", $"{Stats.Seconds(qemu.TotalMs)} for {qemu.Total} " +
                       (qemu.Extrapolated ? $"(extrapolated from {qemu.Measured})" : "(measured on all)"));
        return qemu;
    }

    private void ReportRatios(ScanResult first, ScanResult warm, QemuInfoResult qemu)
    {
        var warmRatio = qemu.TotalMs / warm.Milliseconds;
        var firstRatio = qemu.TotalMs / first.Milliseconds;
        report.Line($"ratio qemu-img / Core: {Stats.Ratio(warmRatio)} (warm), {Stats.Ratio(firstRatio)} (first run) — target ≥ 50×");
        report.Summary("listing", "ratio qemu-img / Core (warm)", Stats.Ratio(warmRatio), warmRatio >= 50 ? "≥ 50×: met" : "≥ 50×: NOT met");
        report.Summary("listing", "ratio qemu-img / Core (first run)", Stats.Ratio(firstRatio));
    }

    private void MeasureMemory(string poolPath)
    {
        var tenthPath = environment.Context.Pools.Find(TenthPool).Path;
        var small = Probe(TenthPool, tenthPath);
        var large = Probe(Pool, poolPath);
        var growth = GrowthPerItem(small.Listing, large.Listing);
        var namesGrowth = GrowthPerItem(small.Names, large.Names);
        var beyondNames = (small.Listing.PeakRetainedBytes - small.Names.PeakRetainedBytes, large.Listing.PeakRetainedBytes - large.Names.PeakRetainedBytes);
        report.Line($"retained heap grows by {Stats.F(growth, "0")} B per extra volume listed; enumerating the sorted file names alone " +
                    $"(PoolService.VolumeFiles) grows by {Stats.F(namesGrowth, "0")} B per file; listing minus file names: " +
                    $"{Stats.Bytes(beyondNames.Item1)} (N/10) → {Stats.Bytes(beyondNames.Item2)} (N)");
        report.Summary("listing", $"peak retained heap while listing {small.Listing.Items} → {large.Listing.Items}",
            $"{Stats.Bytes(small.Listing.PeakRetainedBytes)} → {Stats.Bytes(large.Listing.PeakRetainedBytes)} ({Stats.F(growth, "0")} B/volume)",
            growth < 16 ? "flat in N: met" : "flat in N: NOT met");
        report.Summary("listing", "same, sorted file names alone (VolumeFiles)",
            $"{Stats.Bytes(small.Names.PeakRetainedBytes)} → {Stats.Bytes(large.Names.PeakRetainedBytes)} ({Stats.F(namesGrowth, "0")} B/file)");
        report.Summary("listing", "allocated per volume listed", $"{Stats.Bytes(small.Listing.AllocatedPerItem)} (N/10), {Stats.Bytes(large.Listing.AllocatedPerItem)} (N)");
    }

    private static double GrowthPerItem(MemoryResult small, MemoryResult large) =>
        large.Items == small.Items ? 0 : (large.PeakRetainedBytes - small.PeakRetainedBytes) / (double)(large.Items - small.Items);

    private (MemoryResult Listing, MemoryResult Names) Probe(string pool, string path)
    {
        var listing = MemoryProbe.Measure(() => new VolumeCatalog(environment.Context).ByName(["*"], pool));
        var names = MemoryProbe.Measure(() => PoolService.VolumeFiles(path));
        report.Line($"memory, {listing.Items} volumes ({listing.Samples} samples): peak retained {Stats.Bytes(listing.PeakRetainedBytes)} " +
                    $"above the heap before listing; allocated {Stats.Bytes(listing.AllocatedPerItem)} per volume " +
                    $"(file names alone: peak retained {Stats.Bytes(names.PeakRetainedBytes)}, {Stats.Bytes(names.AllocatedPerItem)} per file)");
        return (listing, names);
    }
}
