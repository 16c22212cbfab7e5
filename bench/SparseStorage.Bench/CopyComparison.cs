using System.Diagnostics;

namespace SparseStorage.Bench;

/// <summary>
/// The copy comparison in one pool: builds the 20 GiB and 2 TiB sources, times every contender cold (sync, page
/// cache dropped) and warm (the source's data read into the cache just before), rounds interleaved so that drift
/// hits all alike; checks each contender's first copy; reports medians and ratios.
/// </summary>
internal sealed class CopyComparison(BenchEnvironment environment, Report report, string label, string pool, int runs)
{
    public const long SmallSize = 20L << 30;
    public const long LargeSize = 2L << 40;

    private readonly Dictionary<string, CopyCheck> checks = [];

    public void Run()
    {
        var (small, large) = (Path.Combine(pool, "source-20g.img"), Path.Combine(pool, "source-2t.img"));
        try
        {
            Setup(small, large);
            var lineup = CopyLineup.For(environment, pool, small, large, runs);
            WarmUpJit();
            var cold = Rounds(lineup.All, cold: true);
            var warm = Rounds(lineup.All, cold: false);
            new CopyFigures(report, label, lineup, cold, warm, checks).Write();
        }
        finally
        {
            foreach (var file in Directory.GetFiles(pool))
                File.Delete(file);
        }
    }

    private void Setup(string small, string large)
    {
        var clock = Stopwatch.StartNew();
        ScatteredData.Write([(small, SmallSize), (large, LargeSize)]);
        report.Line($"sources written in {Stats.Seconds(clock.Elapsed.TotalMilliseconds)}: {ScatteredData.ChunkCount} chunks of 1 MiB at seeded random 1 MiB-aligned offsets " +
                    "(even chunks random bytes, odd chunks English-like text), the same chunks in both images");
        foreach (var (path, size) in new[] { (small, SmallSize), (large, LargeSize) })
            report.Line($"  {Path.GetFileName(path)}: size {ByteSize.Format(size)}, allocated {Stats.Bytes(CopyVerifier.Allocated(path))}, {ExtentComparer.DataExtentCount(path)} data extents (SEEK_DATA)");
    }

    /// <summary>One untimed copy of a small sparse volume by each in-process contender, so the timed runs do not include JIT compilation.</summary>
    private void WarmUpJit()
    {
        var source = Path.Combine(pool, "jit-warmup.img");
        using (var file = new FileStream(source, FileMode.CreateNew, FileAccess.Write))
        {
            file.SetLength(64 << 20);
            file.Position = 8 << 20;
            file.Write(new byte[1 << 20].Select((_, i) => (byte)(i % 251 + 1)).ToArray());
        }
        foreach (var contender in new[] { CopyContender.VolumeCopier(environment.Context, "warm-up", "warm-up", source, Path.Combine(pool, "jit-copy.img"), 1),
                     CopyContender.SparseCopierZeroes(source, Path.Combine(pool, "jit-zeroes.img"), 1) })
        {
            contender.Copy();
            File.Delete(contender.Destination);
        }
        File.Delete(source);
    }

    private Dictionary<string, List<double>> Rounds(IReadOnlyList<CopyContender> contenders, bool cold)
    {
        var times = contenders.ToDictionary(c => c.Name, _ => new List<double>());
        for (var round = 0; round < runs; round++)
            foreach (var contender in contenders.Where(c => round < c.Runs))
                times[contender.Name].Add(TimeOne(contender, cold, verify: cold && round == 0));
        return times;
    }

    private double TimeOne(CopyContender contender, bool cold, bool verify)
    {
        PageCache.Prepare(cold, contender.Source);
        var clock = Stopwatch.StartNew();
        contender.Copy();
        var elapsed = clock.Elapsed.TotalMilliseconds;
        Console.WriteLine($"    {label}, {(cold ? "cold" : "warm")}: {contender.Name}: {Stats.Duration(elapsed)}");
        if (verify)
            checks[contender.Name] = CopyVerifier.Check(contender.Source, contender.Destination, contender.CompareByExtents);
        File.Delete(contender.Destination);
        return elapsed;
    }
}
