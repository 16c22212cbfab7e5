using System.Security.Cryptography;
using SparseStorage.Core.Backups;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>The Ceph lab of the backup tests, in /var/tmp/sstest-cbackup-*.</summary>
public sealed class CephBackupLab() : CephLab("cbackup");

/// <summary>
/// Backups of Ceph volumes from RBD's change tracking against a real cluster (<see cref="CephBackupLab"/>): a full set
/// and two incrementals, restored into the Ceph pool and into a file pool and compared byte for byte with the image
/// as it was (read by the test itself with rbd export as client.admin), a tampered diff refused.
/// </summary>
[Collection(CephLabCollection.Name)]
public sealed class CephBackupTests(CephBackupLab lab) : IClassFixture<CephBackupLab>, IDisposable
{
    private readonly TempDirectory root = new("sstest-cbackup");
    private readonly List<string> steps = [];
    private readonly List<string> everyStep = [];
    private const string PoolName = "cephbk";

    [CephFact]
    public void A_full_and_two_incrementals_restore_byte_identical_into_ceph_and_a_file_pool_by_their_planned_steps()
    {
        var settings = lab.FreshNamespace();
        var context = CephLab.Context(root, journal: new StepJournal(step => { steps.Add(step); everyStep.Add(step); }));
        var volume = NewDisk(context, settings, 256, withFilePool: true);
        var store = root.Combine("store");
        Directory.CreateDirectory(store);
        File.WriteAllBytes(root.Combine("integrity.key"), RandomNumberGenerator.GetBytes(32));
        var key = BackupIntegrityKey.Load(root.Combine("integrity.key"));
        var backups = new CephVolumeBackup(context);
        var request = new BackupRequest { Destination = store, IntegrityKey = key };

        Write(settings, 0x11, 0, 24 << 20);
        Write(settings, 0x12, (100 << 20) + 4096, 3 << 20);
        var full = Backup(backups, volume, request);
        var atFull = Export(settings, "disk");
        Write(settings, 0x21, 8 << 20, 4 << 20);
        var first = Backup(backups, volume, request);
        var atFirst = Export(settings, "disk");
        Write(settings, 0x31, (200 << 20) + 12345, 1 << 20);
        Qemu(settings, "disk", "discard 0 4M");
        var second = Backup(backups, volume, request);
        var atSecond = Export(settings, "disk");

        full.Kind.Should().Be(BackupKind.Full);
        (first.Kind, first.Parent, second.Parent).Should().Be((BackupKind.Incremental, full.Name, first.Name));
        first.ChangeDetection.Should().Be(ChangeDetection.RbdDiff);
        first.StoredBytes.Should().BeLessThan(full.StoredBytes / 4, "an incremental holds the changed extents only").And.BeLessThan(5L << 20);
        first.ReadBytes.Should().Be(4L << 20, "the diff read exactly the 4 MiB written since the full set");
        full.StoredBytes.Should().BeGreaterThan(27L << 20);
        new[] { full, first, second }.Should().OnlyContain(b => b.Signed);
        ModuleSnapshots(settings, "disk").Should().Equal(new[] { first, second }.Select(b => SnapshotOf(store, b)),
            "the image keeps the snapshot the next incremental starts from and the one the newest set started from; the full set's went");

        var restorer = new CephBackupRestorer(context);
        var signature = new BackupSignaturePolicy(key, AllowUnsigned: false);
        var intoFile = Restore(restorer, new RestoreCephBackupRequest(first.BackupPath, root.Combine("files", "disk-first.img"), signature));
        Sha256(intoFile.Path).Should().Be(Sha256(atFirst), "the file pool's copy is the image as it was at the first incremental");
        intoFile.AllocatedBytes.Should().BeLessThan(40L << 20, "holes stay holes: 31 MiB of data in a 256 MiB image");

        var intoCeph = Restore(restorer, new RestoreCephBackupRequest(second.BackupPath, settings.ImagePath("copy"), signature));
        Sha256(Export(settings, "copy")).Should().Be(Sha256(atSecond));
        intoCeph.SnapshotCount.Should().Be(0, "a restore to another image keeps none of the chain's snapshots");

        Write(settings, 0x77, 0, 64 << 20);
        var replaced = Restore(restorer, new RestoreCephBackupRequest(second.BackupPath, null, signature));
        replaced.Path.Should().Be(volume.Path);
        Sha256(Export(settings, "disk")).Should().Be(Sha256(atSecond), "the recorded image is replaced by the set");
        Backup(backups, volume, request).Kind.Should().Be(BackupKind.Incremental, "the restored image keeps the set's snapshot, so backups go on from it");

        Sha256(atFull).Should().NotBe(Sha256(atFirst));
        var keyring = File.ReadAllText(settings.Keyring!).Split("key = ")[1].Trim().Split('\n')[0];
        everyStep.Should().NotContain(s => s.Contains(keyring)).And.Contain(s => s.Contains(" import-diff "))
            .And.Contain(s => s.StartsWith("Write the RBD diff of image disk at snapshot ") && s.Contains(" since snapshot ") && s.EndsWith(" through librbd, as rbd export-diff --whole-object writes it"),
                "the diff is written in this process, with no rbd process");
    }

    [CephFact]
    public void The_plan_reads_snapshots_and_watchers_in_process_as_rbd_reports_them_and_refuses_an_image_open_elsewhere()
    {
        var settings = lab.FreshNamespace();
        var context = CephLab.Context(root, journal: new StepJournal(steps.Add));
        var volume = NewDisk(context, settings, 64);
        string[] at = ["--pool", settings.Pool, "--namespace", settings.Namespace!];
        foreach (var name in new[] { "first", "zweite-\u00e9t\u00e9", CephVolumeBackup.SnapshotPrefix + "x" })
            lab.Rbd(["snap", "create", .. at, "--image", "disk", "--snap", name]);
        var (pool, image) = CephImages.Resolve(context, volume.Path);
        var store = root.Combine("store");
        Directory.CreateDirectory(store);
        var backups = new CephVolumeBackup(context);

        IReadOnlyList<string> Snapshots() { using var handle = RbdImageHandle.Open(pool.Settings, image, readOnly: true); return handle.SnapshotNames(); }
        IReadOnlyList<string> Watchers() { using var handle = RbdImageHandle.Open(pool.Settings, image, readOnly: true); return handle.WatcherAddresses(); }
        var closed = (Snapshots: Snapshots(), Watchers: Watchers());
        IReadOnlyList<string> open;
        using (lab.Watch(settings, "disk"))
        {
            open = Watchers();
            CephImages.State(context, pool, image, watchers: true).Watchers.Should().Equal(open);
            var expected = CephListing.Watchers(lab.Rbd(["status", "--format", "json", .. at, "--image", "disk"]));
            open.Should().ContainSingle().And.Equal(expected, "librbd names the watcher as rbd status does");
            backups.Invoking(b => b.Plan((volume, new BackupRequest { Destination = store }))).Should().Throw<VolumeInUseException>().WithMessage("*RBD watchers*-AllowUnpausedWrites*");
            var allowed = backups.Plan((volume, new BackupRequest { Destination = store, AllowUnpausedWrites = true }));
            allowed.Consistency.Should().Be(WriteConsistency.Unfrozen);
            allowed.Warnings.Should().ContainSingle().Which.Should().Contain(open[0]);
        }

        closed.Snapshots.Should().BeEquivalentTo(RbdSnapshotCommands.Snapshots(lab.Rbd(["snap", "ls", "--format", "json", .. at, "--image", "disk"])).Select(s => s.Name))
            .And.HaveCount(3);
        closed.Watchers.Should().BeEmpty("nothing has the image open; the read-only open that asks registers no watch of its own");
        backups.Plan((volume, new BackupRequest { Destination = store })).Consistency.Should().Be(WriteConsistency.Detached);
    }

    [CephFact]
    public void A_tampered_diff_is_refused_and_leaves_no_image_or_file_behind()
    {
        var settings = lab.FreshNamespace();
        var context = CephLab.Context(root, journal: new StepJournal(steps.Add));
        var volume = NewDisk(context, settings, 64, withFilePool: true);
        var store = root.Combine("store");
        Directory.CreateDirectory(store);
        Write(settings, 0x42, 0, 8 << 20);
        var full = Backup(new CephVolumeBackup(context), volume, new BackupRequest { Destination = store });
        var diff = Path.Combine(full.BackupPath, RbdBackupRecord.DiffFileName);
        using (var file = new FileStream(diff, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 4 << 20;
            var value = file.ReadByte();
            file.Position = 4 << 20;
            file.WriteByte((byte)(value ^ 0xff));
        }
        var restorer = new CephBackupRestorer(context);

        var intoFile = restorer.Plan(new RestoreCephBackupRequest(full.BackupPath, root.Combine("files", "t.img")));
        restorer.Invoking(r => r.Apply(intoFile)).Should().Throw<BackupDamagedException>().WithMessage("*does not match its SHA-256*");
        Directory.GetFiles(root.Combine("files"), "*", SearchOption.AllDirectories).Should().BeEmpty("the hidden file is removed and nothing is renamed");

        var intoCeph = restorer.Plan(new RestoreCephBackupRequest(full.BackupPath, settings.ImagePath("t")));
        restorer.Invoking(r => r.Apply(intoCeph)).Should().Throw<BackupDamagedException>().WithMessage("*does not match its SHA-256*");
        lab.Rbd("ls", "--pool", settings.Pool, "--namespace", settings.Namespace!).Trim().Should().Be("disk", "no work image was created");
    }

    [CephFact]
    public void Compress_SparseVolume_archives_a_ceph_volume_that_expands_into_a_file_pool_byte_identical_and_sparse()
    {
        var settings = lab.FreshNamespace();
        var context = CephLab.Context(root, journal: new StepJournal(steps.Add));
        var volume = NewDisk(context, settings, 256, withFilePool: true);
        Write(settings, 0x51, 4 << 20, 6 << 20);
        Write(settings, 0x52, 150 << 20, 1 << 20);
        var archives = new CephVolumeArchive(context);

        var plan = archives.Plan(new CompressVolumeRequest(volume, root.Path));
        File.Exists(plan.ArchivePath).Should().BeFalse("a plan writes nothing");
        steps.Clear();
        var archive = archives.Apply(plan);
        PlannedSteps.Match(plan.Steps, steps);

        archive.Path.Should().Be(root.Combine("disk.img.tar.zst"));
        var expansion = new ArchiveService(context);
        var expanded = expansion.Apply(expansion.Plan(new ExpandVolumeRequest(archive.Path, root.Combine("files"))));
        expanded.Path.Should().Be(root.Combine("files", "disk.img"));
        Sha256(expanded.Path).Should().Be(Sha256(Export(settings, "disk")));
        expanded.AllocatedBytes.Should().BeLessThan(16L << 20, "the archive kept the image's holes: 7 MiB of data in 256 MiB");
        context.Runtime.FuseExports.Should().Match(d => !Directory.Exists(d) || !Directory.EnumerateFileSystemEntries(d).Any(), "the read-only export is stopped");
    }

    [CephFact]
    public void The_diff_written_in_process_is_byte_for_byte_what_rbd_export_diff_whole_object_writes()
    {
        var settings = lab.FreshNamespace();
        var context = CephLab.Context(root, journal: new StepJournal(steps.Add));
        NewDisk(context, settings, 64);
        string[] at = ["--pool", settings.Pool, "--namespace", settings.Namespace!, "--image", "disk"];
        Write(settings, 0x41, 0, 6 << 20);
        Write(settings, 0x00, 16 << 20, 4 << 20);
        Write(settings, 0x42, (40 << 20) + 777, 100);
        lab.Rbd(["snap", "create", .. at, "--snap", "a"]);
        Write(settings, 0x43, 2 << 20, 1 << 20);
        Qemu(settings, "disk", "discard 40M 4M");
        lab.Rbd(["resize", "--size", "80M", .. at]);
        Write(settings, 0x44, 72 << 20, 8 << 20);
        lab.Rbd(["snap", "create", .. at, "--snap", "b"]);
        Write(settings, 0x45, 0, 1 << 20);

        foreach (var (from, to) in new (string?, string)[] { (null, "a"), ("a", "b"), (null, "b") })
        {
            var byRbd = root.Combine($"rbd-{from}-{to}.diff");
            lab.Rbd(["export-diff", "--no-progress", "--whole-object", .. at, "--snap", to, .. from is null ? Array.Empty<string>() : ["--from-snap", from], byRbd]);
            var inProcess = new MemoryStream();
            long written;
            using (var handle = RbdImageHandle.Open(settings, "disk", readOnly: true))
                written = handle.WriteDiff(from, to, inProcess, CancellationToken.None);

            written.Should().Be(inProcess.Length);
            inProcess.ToArray().AsSpan().SequenceEqual(File.ReadAllBytes(byRbd)).Should().BeTrue($"the diff {from ?? "(none)"}..{to} is rbd's to the byte ({inProcess.Length} bytes here, {new FileInfo(byRbd).Length} by rbd)");
            inProcess.Position = 0;
            using var applied = File.OpenHandle(root.Combine($"{to}-{from}.raw"), FileMode.CreateNew, FileAccess.ReadWrite);
            var summary = new RbdDiffReader(inProcess, "in-process").Read(new SparseFileDiffSink(applied, "image"));
            (summary.FromSnapshot, summary.ToSnapshot).Should().Be((from, to));
            summary.ZeroBytes.Should().BeGreaterThan(0, "the object written with zeros (and, from a to b, the discarded one) is a zero record");
        }
    }

    /// <summary>Registers the Ceph pool on the test's namespace (and the file pool "files" under root when asked) and creates the image "disk".</summary>
    private SparseVolume NewDisk(StorageContext context, CephPoolSettings settings, int mebibytes, bool withFilePool = false)
    {
        var registration = new CephPoolRegistration(context);
        registration.Apply(registration.Plan(new RegisterCephPoolRequest(PoolName, settings)));
        if (withFilePool)
        {
            Directory.CreateDirectory(root.Combine("files"));
            context.Pools.Register("files", root.Combine("files"));
        }
        var creation = new CephVolumeCreation(context);
        return creation.Apply(creation.Plan(new NewVolumeRequest { Name = "disk", Pool = PoolName, Size = ByteSize.FromMiB(mebibytes) }));
    }

    private VolumeBackup Backup(CephVolumeBackup backups, SparseVolume volume, BackupRequest request)
    {
        var plan = backups.Plan((volume, request));
        var before = Directory.GetFileSystemEntries(request.Destination, "*", SearchOption.AllDirectories);
        Directory.GetFileSystemEntries(request.Destination, "*", SearchOption.AllDirectories).Should().Equal(before, "a plan writes nothing");
        steps.Clear();
        var backup = backups.Apply(plan);
        PlannedSteps.Match(plan.Steps, steps);
        return backup;
    }

    private SparseVolume Restore(CephBackupRestorer restorer, RestoreCephBackupRequest request)
    {
        var plan = restorer.Plan(request);
        plan.Impact.Should().Be(PlanImpact.High);
        steps.Clear();
        var restored = restorer.Apply(plan);
        PlannedSteps.Match(plan.Steps, steps);
        return restored;
    }

    private static string SnapshotOf(string store, VolumeBackup backup) =>
        CephVolumeBackup.SnapshotPrefixOf(BackupCatalog.VolumeFolder(store, "disk")) + backup.Name[..backup.Name.LastIndexOf('-')];

    private IReadOnlyList<string> ModuleSnapshots(CephPoolSettings settings, string image) =>
        RbdSnapshotCommands.Snapshots(lab.Rbd("snap", "ls", "--format", "json", "--pool", settings.Pool, "--namespace", settings.Namespace!, "--image", image))
            .Select(s => s.Name).Where(n => n.StartsWith(CephVolumeBackup.SnapshotPrefix, StringComparison.Ordinal)).ToList();

    private void Write(CephPoolSettings settings, byte value, long offset, long length) =>
        Qemu(settings, "disk", $"write -P 0x{value:x2} {offset} {length}");

    private void Qemu(CephPoolSettings settings, string image, string command) =>
        new ProcessRunner().RunChecked(new ToolCommand("qemu-io", "-f", "raw",
            $"rbd:{settings.Pool}/{settings.Namespace}/{image}:conf={lab.ConfigPath}:id=admin:keyring={lab.AdminKeyring}", "-c", command));

    private string Export(CephPoolSettings settings, string image)
    {
        var file = root.Combine($"{image}-{Guid.NewGuid():N}.raw");
        lab.Rbd("export", "--no-progress", "--pool", settings.Pool, "--namespace", settings.Namespace!, "--image", image, file);
        return file;
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    public void Dispose() => root.Dispose();
}

/// <summary>Planned steps against applied ones: same order, same text, "&lt;...&gt;" in a plan standing for what only the run knows.</summary>
internal static class PlannedSteps
{
    public static void Match(IReadOnlyList<string> planned, IReadOnlyList<string> applied)
    {
        applied.Should().HaveCount(planned.Count, $"the run takes the planned steps:\n  {string.Join("\n  ", planned)}\nbut ran:\n  {string.Join("\n  ", applied)}");
        for (var i = 0; i < planned.Count; i++)
        {
            var pattern = "^" + string.Join(".+", System.Text.RegularExpressions.Regex.Split(planned[i], "'?<[^<>]+>'?").Select(System.Text.RegularExpressions.Regex.Escape)) + "$";
            applied[i].Should().MatchRegex(pattern, $"step {i} was planned as '{planned[i]}'");
        }
    }
}
