namespace SparseStorage.Bench;

/// <summary>
/// Turns one pool's copy timings and checks into report lines and summary rows: each contender's cold and warm
/// times, the ratios time_peer / time_ours (above 1: ours is faster) against their targets, the 2 TiB / 20 GiB
/// ratio, the checks, and which copies were reflinks.
/// </summary>
internal sealed class CopyFigures(Report report, string label, CopyLineup lineup,
    Dictionary<string, List<double>> cold, Dictionary<string, List<double>> warm, Dictionary<string, CopyCheck> checks)
{
    public void Write()
    {
        foreach (var contender in lineup.All)
            ContenderLines(contender);
        RatioLines();
        SummaryRows();
    }

    private (double Cold, double Warm) Median(CopyContender contender) =>
        (Stats.Median(cold[contender.Name]), Stats.Median(warm[contender.Name]));

    private void ContenderLines(CopyContender contender)
    {
        report.Line($"{contender.Name}: cold {Stats.Spread(cold[contender.Name])}; warm {Stats.Spread(warm[contender.Name])}");
        report.Line($"  first cold copy: {checks[contender.Name].Describe()}");
    }

    private void RatioLines()
    {
        var (ours, zeroes, large) = (Median(lineup.Ours), Median(lineup.Zeroes), Median(lineup.OursLarge));
        foreach (var (peer, target) in lineup.Targets)
        {
            var time = Median(peer);
            report.Line($"ratio {peer.Name} / VolumeCopier: cold {Stats.Ratio(time.Cold / ours.Cold)}, warm {Stats.Ratio(time.Warm / ours.Warm)} (target ≥ {target}×); " +
                        $"/ SparseCopier DetectZeroes: cold {Stats.Ratio(time.Cold / zeroes.Cold)}, warm {Stats.Ratio(time.Warm / zeroes.Warm)}");
        }
        report.Line($"ratio 2 TiB / 20 GiB image (VolumeCopier, same 1 GiB of data): cold {Stats.Ratio(large.Cold / ours.Cold)}, warm {Stats.Ratio(large.Warm / ours.Warm)} (target ≈ 1)");
    }

    private void SummaryRows()
    {
        foreach (var contender in lineup.All)
            report.Summary(label, $"{contender.Name}, cold / warm", $"{Stats.Duration(Median(contender).Cold)} / {Stats.Duration(Median(contender).Warm)}");
        var ours = Median(lineup.Ours);
        foreach (var (peer, target) in lineup.Targets)
            RatioRow($"ratio {peer.Name} / ours, cold / warm", (Median(peer).Cold / ours.Cold, Median(peer).Warm / ours.Warm), $"≥ {target}×", r => r >= target);
        var large = Median(lineup.OursLarge);
        RatioRow("ratio 2 TiB / 20 GiB image (ours), cold / warm", (large.Cold / ours.Cold, large.Warm / ours.Warm), "≈ 1", r => r is > 0.5 and < 2);
        var failed = lineup.All.Where(c => !checks[c.Name].Passed).Select(c => $"{c.Tag}: {checks[c.Name].Failure()}").ToList();
        report.Summary(label, "copies identical, allocation within 1 MiB", $"{lineup.All.Count - failed.Count} of {lineup.All.Count}{string.Concat(failed.Select(f => "; " + f))}",
            failed.Count == 0 ? "all: met" : "all: NOT met");
        report.Summary(label, "reflink (copy shares extents)", string.Join(", ", lineup.All.Select(c => $"{c.Tag} {(checks[c.Name].Reflinked ? "yes" : "no")}")));
    }

    private void RatioRow(string figure, (double Cold, double Warm) ratio, string target, Func<double, bool> met) =>
        report.RatioRow(label, figure, ratio, target, met);
}
