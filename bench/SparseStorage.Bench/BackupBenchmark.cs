using System.Diagnostics;
using SparseStorage.Core.Backups;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Bench;

/// <summary>
/// Backup-SparseVolume (full and incremental) and the archive of a 20 GiB sparse raw image holding 1 GiB of scattered
/// data, on the working directory's filesystem, against qemu-img convert, rsync -S, tar --sparse | zstd and lzop,
/// cold (sync, page cache dropped) and warm (the inputs' data read into the cache just before), rounds interleaved.
/// </summary>
internal sealed class BackupBenchmark(BenchEnvironment environment, BenchOptions options, Report report)
{
    private string label = "backup";
    private const int ChangedChunks = 16;
    private const int ArchiveLevel = 3;

    /// <summary>One timed operation: <see cref="Before"/> untimed, then the cache prepared for <see cref="Inputs"/>, then <see cref="Run"/> timed, then <see cref="After"/> untimed.</summary>
    private sealed record Trial(string Name, int Runs, string[] Inputs, Action Run)
    {
        public Action Before { get; init; } = () => { };
        public Action After { get; init; } = () => { };
    }

    private string pool = "", source = "", destination = "", peers = "";
    private int changeRound;

    public void Run()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            report.Section(label);
            report.Line("skipped: needs root (drop_caches before cold runs)");
            report.Summary(label, "skipped", "needs root");
            return;
        }
        pool = environment.NewPool("bench-backup");
        destination = environment.Scratch("backup-sets");
        peers = environment.Scratch("backup-peers");
        source = Path.Combine(pool, "source-20g.img");
        try
        {
            DescribeMethod();
            Setup();
            WarmUpJit();
            var full = FullBackup();
            Incremental(full);
            Archive();
            OnXfs();
        }
        finally
        {
            DeleteWorkDirectories();
        }
    }

    private void DeleteWorkDirectories()
    {
        foreach (var directory in new[] { pool, destination, peers })
            if (Directory.Exists(directory))
                Directory.Delete(directory, recursive: true);
    }

    /// <summary>
    /// The full and incremental figures again with everything on an xfs filesystem with reflink (a sparse file on the
    /// same disk, loop-mounted): there a backup keeps a clone of the image and the next incremental reads only what moved.
    /// </summary>
    private void OnXfs()
    {
        var xfs = XfsLoopMount.Create(environment.Root, CopyBenchmark.XfsSize);
        var ext4Source = source;
        try
        {
            pool = environment.RegisterPool("bench-backup-xfs", Directory.CreateDirectory(Path.Combine(xfs.MountPoint, "pool")).FullName);
            destination = Directory.CreateDirectory(Path.Combine(xfs.MountPoint, "backup-sets")).FullName;
            peers = Directory.CreateDirectory(Path.Combine(xfs.MountPoint, "backup-peers")).FullName;
            source = Path.Combine(pool, Path.GetFileName(ext4Source));
            Shell.Run("cp", "--sparse=always", "--reflink=never", ext4Source, source);
            label = "backup on xfs";
            report.Section($"{label}: mkfs.xfs -m reflink=1 on a {ByteSize.Format(CopyBenchmark.XfsSize)} sparse file on {xfs.Device}; source, sets and peer copies all on it");
            report.Line($"xfs_info: {xfs.Describe()}; the source is a copy of the one above, allocated {Stats.Bytes(CopyVerifier.Allocated(source))}");
            Incremental(FullBackup());
        }
        finally
        {
            DeleteWorkDirectories();
            xfs.Dispose();
        }
    }

    private int Runs => options.CopyRuns;

    private void DescribeMethod()
    {
        report.Section($"backup: method (median of {Runs} cold and {Runs} warm runs; rsync and lzop 1 of each, they read all 20 GiB)");
        report.Line($"SparseStorage: {CopyBenchmark.Revision()}");
        report.Line($"tools: {CopyBenchmark.FirstLine("rsync", "--version")}; {CopyBenchmark.FirstLine("qemu-img", "--version")}; {CopyBenchmark.FirstLine("tar", "--version")}; " +
                    $"{CopyBenchmark.FirstLine("zstd", "--version")}; {Shell.Run("lzop", "--version").Split('\n').FirstOrDefault(l => l.StartsWith("lzop"))?.Trim()}; kernel {Shell.Run("uname", "-r").Trim()}");
        report.Line("cold: sync, echo 3 > /proc/sys/vm/drop_caches, then the operation; warm: sync, the inputs' data extents read into the page cache, then the operation");
        report.Line("each time ends with the output on disk: ours fsync their output; a peer tool is followed by `sync OUTPUT` inside the timed span");
        report.Line($"everything on {environment.FileSystemType} in {environment.Root}; ratios are time_peer / time_ours (> 1: ours faster)");
    }

    private void Setup()
    {
        var clock = Stopwatch.StartNew();
        ScatteredData.Write([(source, CopyComparison.SmallSize)]);
        report.Line($"source written in {Stats.Seconds(clock.Elapsed.TotalMilliseconds)}: {Path.GetFileName(source)}, size {ByteSize.Format(CopyComparison.SmallSize)}, " +
                    $"allocated {Stats.Bytes(CopyVerifier.Allocated(source))}, {ScatteredData.ChunkCount} chunks of 1 MiB (even random, odd English-like text), registered in pool bench-backup ({pool})");
    }

    private SparseVolume Volume() => new VolumeCatalog(environment.Context).Get(source);

    private VolumeBackup BackUp(bool full)
    {
        var service = new VolumeBackupService(environment.Context);
        return service.Apply(service.Plan(Volume(), new BackupRequest { Destination = destination, Full = full }));
    }

    private static void DeleteSet(VolumeBackup set) => Directory.Delete(set.BackupPath, recursive: true);

    /// <summary>An untimed full and incremental backup and archive of a small volume, so no timed run includes JIT compilation.</summary>
    private void WarmUpJit()
    {
        var small = Path.Combine(pool, "jit-warmup.img");
        using (var file = new FileStream(small, FileMode.CreateNew, FileAccess.Write))
        {
            file.SetLength(64 << 20);
            file.Position = 8 << 20;
            file.Write(new byte[1 << 20].Select((_, i) => (byte)(i % 251 + 1)).ToArray());
        }
        var volume = new VolumeCatalog(environment.Context).Get(small);
        var service = new VolumeBackupService(environment.Context);
        service.Apply(service.Plan(volume, new BackupRequest { Destination = destination, Full = true }));
        service.Apply(service.Plan(volume, new BackupRequest { Destination = destination }));
        var archive = Path.Combine(peers, "jit.img" + ArchiveService.Extension);
        var archives = new ArchiveService(environment.Context);
        archives.Apply(archives.Plan(new CompressVolumeRequest(volume, archive) { Level = ArchiveLevel }));
        File.Delete(small);
        archives.Apply(archives.Plan(new ExpandVolumeRequest(archive, small)));
        File.Delete(small);
        File.Delete(archive);
        Directory.Delete(Path.Combine(destination, volume.Name), recursive: true);
    }

    // ---- 1. full backup

    private (double Cold, double Warm) FullBackup()
    {
        report.Section($"{label}: full backup of the 20 GiB image (1 GiB of data) into a directory on the same disk");
        VolumeBackup? last = null;
        var ours = new Trial("SparseStorage VolumeBackupService, Full = true", Runs, [source], () => last = BackUp(full: true))
            { After = () => DeleteSet(last!) };
        var qemu = PeerCopy("qemu-img convert -m 8 -W -O raw", Runs, "full-qemu.img", "qemu-img", "convert", "-m", "8", "-W", "-O", "raw");
        var rsync = PeerCopy("rsync -S (1 run)", 1, "full-rsync.img", "rsync", "-S");
        Trial[] trials = [ours, qemu, rsync];
        var (cold, warm) = (Rounds(trials, cold: true), Rounds(trials, cold: false));
        var stored = BackUp(full: true);
        report.Line($"a full set: {stored.StoredBytes} B stored in data.bin, {stored.DataBytes} B data; deleted again");
        DeleteSet(stored);
        Lines(trials, cold, warm);
        var oursTime = Medians(ours, cold, warm);
        foreach (var peer in new[] { qemu, rsync })
            Ratio($"ratio {peer.Name} / ours (full)", Medians(peer, cold, warm), oursTime, null);
        return oursTime;
    }

    private Trial PeerCopy(string name, int runs, string file, params string[] command)
    {
        var output = Path.Combine(peers, file);
        return new Trial(name, runs, [source], () =>
        {
            Shell.Run(command[0], [.. command[1..], source, output]);
            Shell.Run("sync", output);
        }) { After = () => File.Delete(output) };
    }

    // ---- 2. incremental

    private void Incremental((double Cold, double Warm) full)
    {
        report.Section($"{label}: incremental after changing {ChangedChunks} MiB ({ChangedChunks} scattered 1 MiB chunks of new random data, fsynced)");
        var offsets = ScatteredData.Offsets(CopyComparison.SmallSize, 0).Where((_, i) => i % (ScatteredData.ChunkCount / ChangedChunks) == 1).ToArray();
        var baseline = Path.Combine(peers, "original.img");
        var previous = Path.Combine(peers, "previous-copy.img");
        Shell.Run("cp", "--sparse=always", source, baseline);
        var fullSet = BackUp(full: true);
        report.Line($"full set {Path.GetFileName(fullSet.BackupPath)} made first (untimed); changed chunks at the same {ChangedChunks} offsets every run (every 64th data chunk), new bytes each run");
        report.Line("each incremental builds on the one before (kept, as a nightly job would), all deleted at the end");
        report.Line("the previous copy for rsync is a copy of the image before any change, restored (cp --sparse=always --preserve=timestamps) before each rsync run");
        VolumeBackup? last = null;
        var incrementals = new List<VolumeBackup>();
        var ours = new Trial("SparseStorage VolumeBackupService, incremental", Runs, [source], () => last = BackUp(full: false))
        {
            Before = () => Change(offsets),
            After = () => incrementals.Add(last!),
        };
        var rsync = new Trial("rsync -S --inplace --no-whole-file (1 run)", 1, [source, previous], () =>
        {
            Shell.Run("rsync", "-S", "--inplace", "--no-whole-file", source, previous);
            Shell.Run("sync", previous);
        })
        {
            Before = () =>
            {
                Change(offsets);
                File.Delete(previous);
                Shell.Run("cp", "--sparse=always", "--preserve=timestamps", baseline, previous); // an mtime of now could match the source's to the second, and rsync would skip it
            },
            After = () =>
            {
                var (same, how) = (ExtentComparer.Equal(source, previous), "compared over the union of data extents");
                report.Line($"rsync result vs source ({how}): {(same ? "identical" : "DIFFERENT")}; allocated {Stats.Bytes(CopyVerifier.Allocated(previous))}");
            },
        };
        Trial[] trials = [ours, rsync];
        var (cold, warm) = (Rounds(trials, cold: true), Rounds(trials, cold: false));
        report.Line($"incremental sets: {string.Join(", ", incrementals.Select(s => $"{s.Kind} {s.StoredBytes} B stored, {s.ReadBytes} B read ({s.ChangeDetection})"))} (expected {ChangedChunks << 20} B stored each)");
        Lines(trials, cold, warm);
        var oursTime = Medians(ours, cold, warm);
        report.Line($"our full backup (above): cold {Stats.Duration(full.Cold)}, warm {Stats.Duration(full.Warm)}");
        Ratio("ratio our full / our incremental", full, oursTime, 3);
        Ratio($"ratio {rsync.Name} / ours (incremental)", Medians(rsync, cold, warm), oursTime, 10);
        foreach (var set in incrementals.Append(fullSet))
            DeleteSet(set);
        File.Delete(baseline);
        File.Delete(previous);
    }

    /// <summary>Writes new random bytes (a new seed each call) into the chunks at <paramref name="offsets"/> and fsyncs the image.</summary>
    private void Change(long[] offsets)
    {
        var random = new Random(7_000 + changeRound++);
        var chunk = new byte[ScatteredData.ChunkSize];
        using var handle = File.OpenHandle(source, FileMode.Open, FileAccess.Write);
        foreach (var offset in offsets)
        {
            random.NextBytes(chunk);
            RandomAccess.Write(handle, chunk, offset);
        }
        RandomAccess.FlushToDisk(handle);
    }

    // ---- 3. archive

    private void Archive()
    {
        report.Section($"backup: archive of the 20 GiB image (level {ArchiveLevel}) and expand");
        var ourArchive = Path.Combine(peers, "ours.img" + ArchiveService.Extension);
        var tarArchive = Path.Combine(peers, "tar.img.tar.zst");
        var lzopArchive = Path.Combine(peers, "lzop.img.lzo");
        var sizes = new Dictionary<string, long>();
        var archives = new ArchiveService(environment.Context);
        var ours = new Trial("SparseStorage ArchiveService.Compress", Runs, [source], () => archives.Apply(archives.Plan(new CompressVolumeRequest(Volume(), ourArchive) { Level = ArchiveLevel, Replace = true })))
            { After = () => KeepSize(sizes, "ours", ourArchive) };
        var tar = Bash($"tar --sparse -cf - | zstd -T0 -{ArchiveLevel}", Runs, tarArchive,
            $"set -o pipefail; tar --sparse -cf - -C '{pool}' '{Path.GetFileName(source)}' | zstd -q -T0 -{ArchiveLevel} -o '{tarArchive}'", sizes);
        var lzop = Bash("lzop -c (1 run)", 1, lzopArchive, $"lzop -c '{source}' > '{lzopArchive}'", sizes);
        Trial[] trials = [ours, tar, lzop];
        var (cold, warm) = (Rounds(trials, cold: true), Rounds(trials, cold: false));
        Lines(trials, cold, warm);
        report.Line($"output sizes: ours {Stats.Bytes(sizes["ours"])}, tar|zstd {Stats.Bytes(sizes[tar.Name])}, lzop {Stats.Bytes(sizes[lzop.Name])}");
        var oursTime = Medians(ours, cold, warm);
        Ratio($"ratio {tar.Name} / ours (archive)", Medians(tar, cold, warm), oursTime, 1);
        Ratio($"ratio {lzop.Name} / ours (archive)", Medians(lzop, cold, warm), oursTime, 8);
        report.Summary(label, "archive size: ours / tar|zstd / lzop", $"{Stats.Bytes(sizes["ours"])} / {Stats.Bytes(sizes[tar.Name])} / {Stats.Bytes(sizes[lzop.Name])}",
            $"ours ≤ tar|zstd: {(sizes["ours"] <= sizes[tar.Name] ? "met" : "NOT met")}");
        Expand(archives, ourArchive, lzopArchive);
    }

    private Trial Bash(string name, int runs, string output, string script, Dictionary<string, long> sizes) =>
        new(name, runs, [source], () =>
        {
            Shell.Run("bash", "-c", script);
            Shell.Run("sync", output);
        }) { After = () => KeepSize(sizes, name, output) };

    private static void KeepSize(Dictionary<string, long> sizes, string key, string path)
    {
        sizes[key] = new FileInfo(path).Length;
        File.Delete(path);
    }

    /// <summary>One cold expand of each archive (made again, untimed): ArchiveService Plan + Apply against lzop -d, with allocated bytes.</summary>
    private void Expand(ArchiveService archives, string ourArchive, string lzopArchive)
    {
        new ArchiveService(environment.Context).Apply(archives.Plan(new CompressVolumeRequest(Volume(), ourArchive) { Level = ArchiveLevel, Replace = true }));
        Shell.Run("bash", "-c", $"lzop -c '{source}' > '{lzopArchive}'");
        var ourTarget = Path.Combine(pool, "expanded.img");
        var lzopTarget = Path.Combine(peers, "lzop-expanded.img");
        PageCache.Prepare(cold: true);
        var clock = Stopwatch.StartNew();
        archives.Apply(archives.Plan(new ExpandVolumeRequest(ourArchive, ourTarget)));
        var ours = clock.Elapsed.TotalMilliseconds;
        PageCache.Prepare(cold: true);
        clock.Restart();
        Shell.Run("lzop", "-d", "-q", "-o", lzopTarget, lzopArchive);
        Shell.Run("sync", lzopTarget);
        var lzop = clock.Elapsed.TotalMilliseconds;
        var (sourceAllocated, oursAllocated, lzopAllocated) = (CopyVerifier.Allocated(source), CopyVerifier.Allocated(ourTarget), CopyVerifier.Allocated(lzopTarget));
        var identical = ExtentComparer.Equal(source, ourTarget);
        report.Line($"expand, cold, 1 run each: ours (PlanExpand + Expand) {Stats.Duration(ours)}, allocated {Stats.Bytes(oursAllocated)}, " +
                    $"{(identical ? "identical" : "DIFFERENT")} to the source over the union of data extents; source allocated {Stats.Bytes(sourceAllocated)}");
        report.Line($"expand: lzop -d + sync {Stats.Duration(lzop)}, allocated {Stats.Bytes(lzopAllocated)} (size {Stats.Bytes(new FileInfo(lzopTarget).Length)})");
        report.Summary(label, "expand, cold: ours / lzop -d", $"{Stats.Duration(ours)} / {Stats.Duration(lzop)}");
        report.Summary(label, "expand, allocated: ours / lzop -d (source)", $"{Stats.Bytes(oursAllocated)} / {Stats.Bytes(lzopAllocated)} ({Stats.Bytes(sourceAllocated)})",
            $"ours keeps holes: {(Math.Abs(oursAllocated - sourceAllocated) <= CopyCheck.AllocationTolerance && identical ? "yes" : "NO")}");
        foreach (var file in new[] { ourArchive, lzopArchive, ourTarget, lzopTarget })
            File.Delete(file);
    }

    // ---- timing and figures

    private Dictionary<string, List<double>> Rounds(IReadOnlyList<Trial> trials, bool cold)
    {
        var times = trials.ToDictionary(t => t.Name, _ => new List<double>());
        for (var round = 0; round < trials.Max(t => t.Runs); round++)
            foreach (var trial in trials.Where(t => round < t.Runs))
            {
                trial.Before();
                PageCache.Prepare(cold, trial.Inputs);
                var clock = Stopwatch.StartNew();
                trial.Run();
                var elapsed = clock.Elapsed.TotalMilliseconds;
                Console.WriteLine($"    {label}, {(cold ? "cold" : "warm")}: {trial.Name}: {Stats.Duration(elapsed)}");
                times[trial.Name].Add(elapsed);
                trial.After();
            }
        return times;
    }

    private static (double Cold, double Warm) Medians(Trial trial, Dictionary<string, List<double>> cold, Dictionary<string, List<double>> warm) =>
        (Stats.Median(cold[trial.Name]), Stats.Median(warm[trial.Name]));

    private void Lines(IEnumerable<Trial> trials, Dictionary<string, List<double>> cold, Dictionary<string, List<double>> warm)
    {
        foreach (var trial in trials)
        {
            report.Line($"{trial.Name}: cold {Stats.Spread(cold[trial.Name])}; warm {Stats.Spread(warm[trial.Name])}");
            report.Summary(label, $"{trial.Name}, cold / warm", $"{Stats.Duration(Stats.Median(cold[trial.Name]))} / {Stats.Duration(Stats.Median(warm[trial.Name]))}");
        }
    }

    private void Ratio(string figure, (double Cold, double Warm) peer, (double Cold, double Warm) ours, double? target)
    {
        var ratio = (peer.Cold / ours.Cold, peer.Warm / ours.Warm);
        report.Line($"{figure}: cold {Stats.Ratio(ratio.Item1)}, warm {Stats.Ratio(ratio.Item2)}{(target is { } t ? $" (target ≥ {t}×)" : "")}");
        if (target is { } goal)
            report.RatioRow(label, figure + ", cold / warm", ratio, $"≥ {goal}×", r => r >= goal);
        else
            report.Summary(label, figure + ", cold / warm", $"{Stats.Ratio(ratio.Item1)} / {Stats.Ratio(ratio.Item2)}");
    }
}
