using System.Text.RegularExpressions;
using SparseStorage.Core.Backups;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Snapshots;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Backups, backup removal and snapshots as plans: Plan changes nothing and names the steps Apply runs; Apply holds the
/// backup folder's lock and refuses when the sets or the snapshot it planned for changed meanwhile.
/// </summary>
public sealed class BackupPlanTests : IDisposable
{
    private readonly TestPool pool = new();
    private readonly List<string> journal = [];
    private readonly StorageContext context;
    private readonly VolumeBackupService backups;
    private readonly BackupSetService sets;
    private readonly string destination;

    public BackupPlanTests()
    {
        context = new StorageContext(pool.Pools, new ProcessRunner(), pool.Runtime, isRoot: true)
        {
            LockWait = TimeSpan.FromMilliseconds(300), Journal = new StepJournal(journal.Add),
        };
        backups = new VolumeBackupService(context);
        sets = new BackupSetService(context);
        destination = Directory.CreateDirectory(pool.Combine("backups")).FullName;
    }

    [IntegrationFact]
    public void A_backup_with_Keep_plans_without_changing_anything_and_runs_exactly_its_steps_removing_the_sets_it_named()
    {
        var volume = Scattered("kept");
        var first = Backup(volume, full: true);
        var second = Backup(volume, full: true);
        journal.Clear();
        var before = Listing();

        var plan = backups.Plan(Fresh(volume), new BackupRequest { Destination = destination, Full = true, Keep = 1 });

        Listing().Should().Equal(before, "a plan changes nothing");
        plan.Retention!.Sets.Select(s => s.Name).Should().Equal([second.Name, first.Name], "the new set is the one kept; later sets go first");
        plan.Steps.Should().EndWith([RemoveBackupSetsPlan.RemoveStep(second.BackupPath), RemoveBackupSetsPlan.RemoveStep(first.BackupPath)]);
        plan.Steps.Should().Contain(s => s.StartsWith("Read and hash the allocated blocks", StringComparison.Ordinal));
        var made = backups.Apply(plan);

        AssertSameSteps(plan.Steps, journal);
        BackupCatalog.SetDirectories(plan.VolumeFolder).Should().Equal(made.BackupPath);
    }

    [IntegrationFact]
    public void A_removal_waits_for_the_backup_folder_lock_and_fails_when_it_is_not_released_in_time()
    {
        var volume = Scattered("locked");
        var set = Backup(volume, full: true);
        var plan = sets.Plan(new RemoveBackupRequest(set.BackupPath));

        using (sets.LockFolder(plan.VolumeFolder))
        {
            FluentActions.Invoking(() => sets.Apply(plan)).Should().Throw<VolumeLockedException>().WithMessage($"*backup folder {plan.VolumeFolder}*");
            FluentActions.Invoking(() => backups.Apply(backups.Plan(Fresh(volume), new BackupRequest { Destination = destination })))
                .Should().Throw<VolumeLockedException>("a backup into the folder takes the same lock");
        }
        Directory.Exists(set.BackupPath).Should().BeTrue("nothing was removed while another held the lock");
        BackupCatalog.SetDirectories(plan.VolumeFolder).Should().ContainSingle();

        var patient = new BackupSetService(new StorageContext(pool.Pools, new ProcessRunner(), pool.Runtime, isRoot: true) { LockWait = TimeSpan.FromMinutes(2) });
        Task<IReadOnlyList<VolumeBackup>> removal;
        using (sets.LockFolder(plan.VolumeFolder))
        {
            removal = Task.Run(() => patient.Apply(plan));
            removal.Wait(TimeSpan.FromMilliseconds(500)).Should().BeFalse("the removal waits while the lock is held");
            Directory.Exists(set.BackupPath).Should().BeTrue();
        }
        removal.Result.Select(s => s.Name).Should().Equal(set.Name);
        Directory.Exists(set.BackupPath).Should().BeFalse();
    }

    [IntegrationFact]
    public void Apply_refuses_a_removal_when_a_set_was_built_on_it_after_the_plan()
    {
        var volume = Scattered("grown");
        var full = Backup(volume, full: true);
        var plan = sets.Plan(new RemoveBackupRequest(full.BackupPath));
        ScatteredImage.Scribble(volume.Path, chunks: 1, seed: 3);
        var incremental = Backup(volume, full: false);

        ErrorIds.Of(() => sets.Apply(plan)).Should().Be("ChangedSincePlanned");

        Directory.Exists(full.BackupPath).Should().BeTrue("the incremental set still needs it");
        BackupCatalog.Chain(incremental.BackupPath).Should().HaveCount(2);
    }

    [IntegrationFact]
    public void Apply_refuses_a_backup_when_its_chain_changed_after_the_plan()
    {
        var volume = Scattered("shifting");
        var full = Backup(volume, full: true);
        var plan = backups.Plan(Fresh(volume), new BackupRequest { Destination = destination });
        plan.Kind.Should().Be(BackupKind.Incremental);
        sets.Apply(sets.Plan(new RemoveBackupRequest(full.BackupPath)));

        ErrorIds.Of(() => backups.Apply(plan)).Should().Be("ChangedSincePlanned");

        Directory.EnumerateFileSystemEntries(plan.VolumeFolder).Should().BeEmpty("no set and no work directory was made");
    }

    [IntegrationFact]
    public void A_restore_plan_names_what_it_replaces_and_Apply_refuses_when_the_set_changed()
    {
        var volume = Scattered("restored");
        var set = Backup(volume, full: true);
        var restorer = new BackupRestorer(context);

        var onto = restorer.Plan(set.BackupPath, null);
        onto.ReplacesExisting.Should().BeTrue();
        onto.Impact.Should().Be(PlanImpact.High);
        onto.ConfirmationQuery.Should().Contain(volume.Path).And.Contain("lost");
        var beside = restorer.Plan(set.BackupPath, "restored-copy");
        beside.ReplacesExisting.Should().BeFalse();
        beside.Steps[^1].Should().Be($"Rename it to {Path.Combine(pool.PoolPath, "restored-copy.img")}");

        journal.Clear();
        restorer.Apply(beside);
        AssertSameSteps(beside.Steps, journal);
        ErrorIds.Of(() => restorer.Apply(beside)).Should().Be("ChangedSincePlanned", "the target exists now, which the plan did not say it would replace");
    }

    [IntegrationFact]
    public void Snapshot_plans_change_nothing_and_Apply_refuses_when_the_snapshot_changed_after_the_plan()
    {
        var snapshots = new SnapshotService(context);
        var raw = Scattered("snapped");
        var before = Listing();
        var create = snapshots.Plan(new NewSnapshotRequest(raw, "first"));
        Listing().Should().Equal(before);
        create.Steps.Should().HaveCount(2).And.Contain(s => s.StartsWith($"Copy {raw.Path} to ", StringComparison.Ordinal));

        journal.Clear();
        snapshots.Apply(create);
        AssertSameSteps(create.Steps, journal);
        ErrorIds.Of(() => snapshots.Apply(create)).Should().Be("SnapshotExists");

        var restore = snapshots.Plan(new RestoreSnapshotRequest(Fresh(raw), "first"));
        var remove = snapshots.Plan(new RemoveSnapshotRequest(Fresh(raw), "first"));
        (restore.Impact, remove.Impact).Should().Be((PlanImpact.High, PlanImpact.High));
        restore.ConfirmationQuery.Should().Contain("everything written to it since is lost");
        snapshots.Remove(snapshots.Find(Fresh(raw), "first"));
        snapshots.Create(Fresh(raw), "first");

        ErrorIds.Of(() => snapshots.Apply(restore)).Should().Be("ChangedSincePlanned");
        ErrorIds.Of(() => snapshots.Apply(remove)).Should().Be("ChangedSincePlanned");
        snapshots.List(Fresh(raw)).Should().ContainSingle().Which.Name.Should().Be("first");
    }

    private static void AssertSameSteps(IReadOnlyList<string> planned, IReadOnlyList<string> applied)
    {
        applied.Should().HaveCount(planned.Count, "Apply runs exactly the planned steps: planned {0}; applied {1}", string.Join(" | ", planned), string.Join(" | ", applied));
        for (var i = 0; i < planned.Count; i++)
            applied[i].Should().MatchRegex("^" + string.Join(".+", Regex.Split(planned[i], "<[^<>]+>").Select(Regex.Escape)) + "$");
    }

    private VolumeBackup Backup(SparseVolume volume, bool full) =>
        backups.Apply(backups.Plan(Fresh(volume), new BackupRequest { Destination = destination, Full = full }));

    private IReadOnlyList<string> Listing() =>
        Directory.EnumerateFileSystemEntries(pool.Root, "*", SearchOption.AllDirectories)
            .Where(p => !p.StartsWith(pool.Runtime.Root, StringComparison.Ordinal))
            .Select(p => new FileInfo(p) is { Exists: true } f ? $"{p} {f.Length} {f.LastWriteTimeUtc:O}" : p).Order(StringComparer.Ordinal).ToList();

    private SparseVolume Scattered(string name)
    {
        var path = Path.Combine(pool.PoolPath, name + ".img");
        ScatteredImage.Write(path, 64L << 20, chunks: 4);
        return Fresh(new VolumeCatalog(context).Get(path));
    }

    private SparseVolume Fresh(SparseVolume volume) => new VolumeCatalog(context).Get(volume.Path);

    public void Dispose() => pool.Dispose();
}
