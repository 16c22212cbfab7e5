using System.Diagnostics;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Bench;

/// <summary>
/// New-SparseVolume of a sparse raw volume without a filesystem (VolumeCreator.Plan + Create), 1 GiB against
/// 2 TiB: thin provisioning should make the size irrelevant. `truncate -s 2T` is the tool a user would pick instead.
/// </summary>
internal sealed class CreateBenchmark(BenchEnvironment environment, BenchOptions options, Report report)
{
    private const string Pool = "bench-create";
    private const long OneGiB = 1L << 30;
    private const long TwoTiB = 2L << 40;

    public void Run()
    {
        report.Section($"create: New-SparseVolume raw, no filesystem, 1 GiB vs 2 TiB vs truncate -s 2T ({options.Repeats} rounds, median)");
        environment.NewPool(Pool);
        var creator = new VolumeCreator(environment.Context);
        var scratch = environment.Scratch("truncate");
        var (small, large, truncate) = (new List<double>(), new List<double>(), new List<double>());
        long allocated = 0;
        for (var round = 0; round <= options.Repeats; round++) // round 0 warms up; the three alternate so drift hits each alike
        {
            var (one, two, tool) = (Create(creator, OneGiB, $"small-{round}", out _), Create(creator, TwoTiB, $"large-{round}", out allocated), Truncate(scratch, round));
            if (round == 0)
                continue;
            small.Add(one);
            large.Add(two);
            truncate.Add(tool);
        }
        Line("Core 1 GiB", small);
        Line("Core 2 TiB", large);
        Line("truncate -s 2T (one process)", truncate);
        ReportFigures(Stats.Median(small), Stats.Median(large), allocated, Stats.Median(truncate));
    }

    private void Line(string what, List<double> times) =>
        report.Line($"{what}: median {Stats.Ms(Stats.Median(times))} (min {Stats.Ms(times.Min())}, max {Stats.Ms(times.Max())})");

    /// <summary>Times Plan + Create as New-SparseVolume runs them, then removes the file; returns milliseconds.</summary>
    private double Create(VolumeCreator creator, long size, string name, out long allocated)
    {
        var clock = Stopwatch.StartNew();
        var plan = creator.Plan(new NewVolumeRequest { Name = name, Pool = Pool, Size = new ByteSize(size) });
        var volume = creator.Create(plan);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        if (volume.SizeBytes != size)
            throw new InvalidOperationException($"{volume.Path}: Core reports {volume.SizeBytes} bytes, asked for {size}");
        allocated = AllocatedOnDisk(volume.Path, volume.AllocatedBytes);
        File.Delete(volume.Path);
        return elapsed;
    }

    /// <summary>Checks Core's AllocatedBytes against `stat` and returns it.</summary>
    private static long AllocatedOnDisk(string path, long reportedByCore)
    {
        var fields = Shell.Run("stat", "-c", "%b %B", path).Split(' ');
        var byStat = long.Parse(fields[0]) * long.Parse(fields[1]);
        return byStat == reportedByCore ? byStat
            : throw new InvalidOperationException($"{path}: Core reports {reportedByCore} allocated bytes, stat {byStat}");
    }

    private static double Truncate(string directory, int round)
    {
        var path = Path.Combine(directory, $"truncate-{round}.img");
        var clock = Stopwatch.StartNew();
        Shell.Run("truncate", "-s", "2T", path);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        File.Delete(path);
        return elapsed;
    }

    private void ReportFigures(double small, double large, long allocated, double truncate)
    {
        var sizeRatio = large / small;
        var toolRatio = large / truncate;
        report.Line($"ratio 2 TiB / 1 GiB: {Stats.Ratio(sizeRatio)} (target ≈ 1: constant time); allocated bytes of the 2 TiB volume: {allocated}");
        report.Line($"ratio Core 2 TiB / truncate 2 TiB: {Stats.Ratio(toolRatio)} (Core also takes the volume lock, fsyncs, renames and re-reads the volume)");
        report.Summary("create", "Core 1 GiB / 2 TiB, median", $"{Stats.Ms(small)} / {Stats.Ms(large)}");
        report.Summary("create", "ratio 2 TiB / 1 GiB", Stats.Ratio(sizeRatio), sizeRatio is > 0.5 and < 2 ? "≈ 1: met" : "≈ 1: NOT met");
        report.Summary("create", "allocated bytes of the 2 TiB volume", Stats.Bytes(allocated), allocated <= 64 * 1024 ? "≈ 0: met" : "≈ 0: NOT met");
        report.Summary("create", "truncate -s 2T, median", Stats.Ms(truncate));
        report.Summary("create", "ratio Core / truncate (2 TiB)", Stats.Ratio(toolRatio));
    }
}
