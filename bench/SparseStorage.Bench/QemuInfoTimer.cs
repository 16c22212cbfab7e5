using System.Diagnostics;
using System.Text.Json;

namespace SparseStorage.Bench;

/// <summary>What `qemu-img info` cost: measured on <see cref="Measured"/> of <see cref="Total"/> files.</summary>
internal sealed record QemuInfoResult(int Measured, int Total, double MeasuredMs, int Failures)
{
    public bool Extrapolated => Measured < Total;
    public double PerVolumeMs => MeasuredMs / Measured;
    public double TotalMs => PerVolumeMs * Total;
}

/// <summary>
/// Times `qemu-img info --output=json FILE` (one process per volume, its JSON parsed) over every file, or, when a
/// pilot run predicts more than the budget, over a random sample whose per-volume cost is extrapolated to all.
/// </summary>
internal sealed class QemuInfoTimer(TimeSpan budget, long expectedVirtualSize)
{
    private const int PilotSize = 50;
    private const int MinimumSample = 1000;
    private const int Seed = 1_000_003;

    public (QemuInfoResult Pilot, QemuInfoResult Result) Measure(IReadOnlyList<string> files)
    {
        var shuffled = files.ToArray();
        new Random(Seed).Shuffle(shuffled);
        var pilot = Time(shuffled[..Math.Min(PilotSize, shuffled.Length)], shuffled.Length);
        var chosen = pilot.TotalMs <= budget.TotalMilliseconds ? files : shuffled[..Math.Min(MinimumSample, shuffled.Length)];
        return (pilot, Time(chosen, files.Count));
    }

    private QemuInfoResult Time(IReadOnlyList<string> files, int total)
    {
        var failures = 0;
        var clock = Stopwatch.StartNew();
        foreach (var file in files)
            failures += Info(file) ? 0 : 1;
        return new QemuInfoResult(files.Count, total, clock.Elapsed.TotalMilliseconds, failures);
    }

    /// <summary>One `qemu-img info`, as a script would run it: start, read the JSON, check the virtual size.</summary>
    private bool Info(string file)
    {
        var (exitCode, stdout, _) = Shell.TryRun("qemu-img", "info", "--output=json", file);
        if (exitCode != 0)
            return false;
        using var json = JsonDocument.Parse(stdout);
        return json.RootElement.GetProperty("virtual-size").GetInt64() == expectedVirtualSize;
    }
}
