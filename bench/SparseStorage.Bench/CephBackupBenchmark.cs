using System.Diagnostics;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Planning;

namespace SparseStorage.Bench;

/// <summary>
/// Backup-SparseVolume of a Ceph volume: a 20 GiB RBD image holding about 1 GiB, in a lab cluster of its own
/// (tests/ceph/lab.sh, brought up and always taken down). After 16 MiB changed, the module's incremental backup
/// (Plan + Apply: RBD snapshot, the diff since the last one written in-process through librbd, manifest with the changed blocks' hashes, the
/// expired snapshot removed while the new one is taken) against the module's full backup and against the same done by hand with rbd (snap create,
/// export-diff --whole-object --from-snap, snap rm: the module's fallback without librbd). Each round changes 16 MiB, then runs the module and the hand-made incremental
/// (alternating which goes first), each diffing from its own snapshot of the round before.
/// </summary>
internal sealed class CephBackupBenchmark(BenchEnvironment environment, BenchOptions options, Report report)
{
    private const string Label = "ceph backup";
    private const long ImageBytes = 20L << 30;
    private const long DataBytes = 1L << 30;
    private const long ChangedBytes = 16L << 20;
    private string lab = "", conf = "", keyring = "";

    public void Run()
    {
        report.Section($"{Label}: a {ByteSize.Format(ImageBytes)} RBD image holding about {ByteSize.Format(DataBytes)}; incrementals after {ByteSize.Format(ChangedBytes)} changed");
        if (!Environment.IsPrivilegedProcess || Shell.TryRun("which", "ceph-mon").ExitCode != 0)
        {
            report.Line("skipped: needs root and the Ceph packages (ceph, ceph-mon, ceph-mgr, ceph-osd)");
            report.Summary(Label, "skipped", "needs root and Ceph");
            return;
        }
        lab = Path.Combine("/var/tmp", $"sstest-cbackup-bench-{Environment.ProcessId}");
        var script = LabScript();
        var up = Stopwatch.StartNew();
        Shell.Run("bash", script, "up", lab);
        report.Line($"lab up in {Stats.Duration(up.Elapsed.TotalMilliseconds)} ({lab}: 1 mon, 1 mgr, 3 OSDs on one disk, pool rbd size 3)");
        try
        {
            Measure();
        }
        finally
        {
            Shell.TryRun("bash", script, "down", lab);
        }
    }

    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(3);

    private void Measure()
    {
        (conf, keyring) = (Path.Combine(lab, "ceph.conf"), Path.Combine(lab, "client.sparse.keyring"));
        var context = environment.Context;
        var registration = new CephPoolRegistration(context);
        registration.Apply(registration.Plan(new RegisterCephPoolRequest("bench-ceph", new CephPoolSettings(conf, "rbd", "sparse", keyring))));
        var creation = new CephVolumeCreation(context);
        var volume = creation.Apply(creation.Plan(new NewVolumeRequest { Name = "bench", Pool = "bench-ceph", Size = new ByteSize(ImageBytes) }));
        var fill = Stopwatch.StartNew();
        Bench(DataBytes);
        var used = new CephPool(context.Runner, context.Pools.Find("bench-ceph")).Images().Single().UsedBytes;
        report.Line($"filled with rbd bench (4 MiB writes at random offsets) in {Stats.Duration(fill.Elapsed.TotalMilliseconds)}: rbd du reports {Stats.Bytes(used)} used");
        var store = environment.Scratch("ceph-backup-sets");
        var byHand = environment.Scratch("ceph-backup-by-hand");
        var stepTimes = new StepTimes();
        var backups = new CephVolumeBackup(new StorageContext(context.Pools, context.Runner, context.Runtime, context.IsRoot) { Journal = new StepJournal(stepTimes.Started) });
        var runs = Math.Clamp(options.Repeats, 1, 5);

        var fullTimes = new List<double>();
        VolumeBackup? full = null;
        for (var run = 0; run < Math.Min(runs, 2); run++)
            fullTimes.Add(Time(() => full = backups.Apply(backups.Plan((volume, new BackupRequest { Destination = store, Full = true })))));
        report.Line($"module full backup (Plan + Apply, Full = true): {Stats.Spread(fullTimes)}; diff {Stats.Bytes(full!.StoredBytes)}, manifest of {full.DataBytes / (1 << 20)} non-zero MiB blocks");
        var handFull = Time(() => Rbd("export-diff", "--no-progress", "--whole-object", "--image", "bench", "--snap", Snapshot(volume, full), Path.Combine(byHand, "full.diff")));
        report.Line($"rbd export-diff of the same snapshot by hand (no snapshot, no manifest): {Stats.Duration(handFull)}");
        Rbd("snap", "create", "--no-progress", "--image", "bench", "--snap", "byhand-0");

        var incrementalTimes = new List<double>();
        var handTimes = new List<double>();
        VolumeBackup? incremental = null;
        long handBytes = 0;
        for (var round = 1; round <= runs; round++)
        {
            Bench(ChangedBytes);
            var (previous, next, diff) = ($"byhand-{round - 1}", $"byhand-{round}", Path.Combine(byHand, $"incr-{round}.diff"));
            void Module()
            {
                incrementalTimes.Add(Time(() =>
                {
                    var plan = backups.Plan((volume, new BackupRequest { Destination = store }));
                    stepTimes.Begin();
                    incremental = backups.Apply(plan);
                    stepTimes.End();
                }));
                report.Line($"  incremental {round}: {stepTimes.Describe()}");
            }
            void Hand()
            {
                handTimes.Add(Time(() =>
                {
                    Rbd("snap", "create", "--no-progress", "--image", "bench", "--snap", next);
                    Rbd("export-diff", "--no-progress", "--whole-object", "--image", "bench", "--snap", next, "--from-snap", previous, diff);
                    Rbd("snap", "rm", "--no-progress", "--image", "bench", "--snap", previous);
                }));
                handBytes = new FileInfo(diff).Length;
            }
            if (round % 2 == 1)
            {
                Module();
                Hand();
            }
            else
            {
                Hand();
                Module();
            }
        }
        report.Line($"every timed run above started {SettleTime.TotalSeconds:0} s after the cluster's last change (the monitors commit at most about once a second)");
        report.Line($"module incremental (Plan + Apply): {Stats.Spread(incrementalTimes)}; diff {Stats.Bytes(incremental!.StoredBytes)}, {Stats.Bytes(incremental.ReadBytes)} read ({incremental.ChangeDetection})");
        report.Line($"by hand (rbd snap create; rbd export-diff --whole-object --from-snap; rbd snap rm): {Stats.Spread(handTimes)}; diff {Stats.Bytes(handBytes)}");
        var (fullMedian, incrementalMedian, handMedian) = (Stats.Median(fullTimes), Stats.Median(incrementalTimes), Stats.Median(handTimes));
        report.Summary(Label, "module full backup, median", Stats.Duration(fullMedian));
        report.Summary(Label, "module incremental after 16 MiB changed, median", Stats.Duration(incrementalMedian));
        report.Summary(Label, "rbd snap create + export-diff --whole-object --from-snap + snap rm by hand, median", Stats.Duration(handMedian));
        report.Summary(Label, "ratio full / incremental", Stats.Ratio(fullMedian / incrementalMedian), $"≥ 10×: {(fullMedian / incrementalMedian >= 10 ? "met" : "NOT met")}");
        report.Summary(Label, "ratio module incremental / by hand", Stats.Ratio(incrementalMedian / handMedian), $"≤ 1.2×: {(incrementalMedian / handMedian <= 1.2 ? "met" : "NOT met")}");
        report.Summary(Label, "diff size: full / incremental", $"{Stats.Bytes(full.StoredBytes)} / {Stats.Bytes(incremental.StoredBytes)}");
    }

    /// <summary>When each step of one Apply started, from its journal, to show where an incremental's time goes.</summary>
    private sealed class StepTimes
    {
        private readonly Stopwatch watch = new();
        private readonly List<(string Step, double At)> steps = [];
        private double end;

        public void Begin()
        {
            steps.Clear();
            watch.Restart();
        }

        public void Started(string step) => steps.Add((step.Split(' ').Take(3).Aggregate((a, b) => $"{a} {b}"), watch.Elapsed.TotalMilliseconds));

        public void End() => end = watch.Elapsed.TotalMilliseconds;

        public string Describe() =>
            "Apply " + Stats.Duration(end) + ": " + string.Join("; ", steps.Select((s, i) => $"{s.Step} {Stats.Duration((i + 1 < steps.Count ? steps[i + 1].At : end) - s.At)}"));
    }

    private static string Snapshot(SparseVolume volume, VolumeBackup backup) =>
        BackupManifest.Load(backup.BackupPath).Manifest.Rbd!.Snapshot;

    /// <summary>
    /// Times an action that starts on a settled cluster: the monitors commit at most about once a second
    /// (paxos_propose_interval), so a snapshot change sent within a second of the last commit waits for the next one.
    /// Each timed run, the module's and the hand-made alike, starts after <see cref="SettleTime"/> without a change.
    /// </summary>
    private static double Time(Action action)
    {
        Thread.Sleep(SettleTime);
        var watch = Stopwatch.StartNew();
        action();
        return watch.Elapsed.TotalMilliseconds;
    }

    private void Bench(long bytes) =>
        Rbd("bench", "--io-type", "write", "--io-size", "4M", "--io-pattern", "rand", "--io-total", bytes.ToString(System.Globalization.CultureInfo.InvariantCulture), "--image", "bench");

    private string Rbd(params string[] arguments) =>
        Shell.Run("rbd", ["--conf", conf, "--id", "sparse", "--keyring", keyring, .. arguments, "--pool", "rbd"]);

    private static string LabScript()
    {
        for (var directory = new DirectoryInfo(Environment.CurrentDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "tests", "ceph", "lab.sh")))
                return Path.Combine(directory.FullName, "tests", "ceph", "lab.sh");
        throw new FileNotFoundException("tests/ceph/lab.sh was not found above " + Environment.CurrentDirectory);
    }
}
