using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Host;
using SparseStorage.Core.Leftovers;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Tests.Support.Crash;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Operations killed with SIGKILL at their most dangerous moment, in a child process running the real code: after the
/// daemon that serves an unlocked volume started, in the middle of encrypting, copying and backing up. What they leave
/// is recorded, counted, and cleared by Lock-Volume or by the sweep of a later call, with no key left in
/// /dev/shm, no daemon, no FUSE mount and no work file.
/// </summary>
[Collection(DeadFuseDaemonCollection.Name)]
public sealed class CrashLeftoverTests : IDisposable
{
    private const string Passphrase = "correct horse battery staple";
    private readonly TestPool pool = new();
    private readonly StorageContext context;
    private readonly List<int> killed = [];

    public CrashLeftoverTests() => context = pool.Context();

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "qemu-img")]
    public void A_kill_during_unlock_leaves_a_record_that_lock_force_clears()
    {
        var volume = Encrypted("unlocked");

        var owner = RunAndKill( "unlock", volume.Path, Passphrase);

        var record = FuseExportRecord.Read(pool.Runtime.FuseExports, volume.Path);
        record.Should().NotBeNull("the record is written before the daemon starts");
        record!.Owner!.Value.ProcessId.Should().Be(owner);
        record.IsOwnerGone.Should().BeTrue();
        record.IsDaemonAlive.Should().BeTrue("the daemon serves the plaintext, found through its pid file");
        SecretDirectoriesOf(owner).Should().NotBeEmpty("the kill came before the key file was deleted");
        new VolumeCatalog(context).Get(volume.Path).IsUnlocked.Should().BeTrue("Lock-Volume sees it");

        var locked = Encrypting.Lock(context, volume);

        locked.IsUnlocked.Should().BeFalse();
        locked.IsAttached.Should().BeFalse();
        ProcessIdentity.Of(record.ProcessId).Should().BeNull("the daemon was stopped");
        new LeftoverSweeper(context).Sweep().Removed.Should().Contain(r => r.Contains("key file"));
        SecretDirectoriesOf(owner).Should().BeEmpty();
        AssertNoRuntimeLeftovers();
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "qemu-img")]
    public void A_kill_during_unlock_is_swept_by_the_next_unlock_which_then_works()
    {
        var volume = Encrypted("reopened");
        var owner = RunAndKill( "unlock", volume.Path, Passphrase);
        var orphan = FuseExportRecord.Read(pool.Runtime.FuseExports, volume.Path)!.ProcessId;
        using var key = VolumeKey.FromPassphrase(Passphrase);

        var unlocked = Encrypting.Unlock(context, volume, [key]);

        ProcessIdentity.Of(orphan).Should().BeNull("the orphaned daemon was stopped before the volume was opened again");
        SecretDirectoriesOf(owner).Should().BeEmpty();
        unlocked.IsUnlocked.Should().BeTrue();
        var record = FuseExportRecord.Read(pool.Runtime.FuseExports, volume.Path)!;
        record.Owner.Should().BeNull("a finished unlock hands the daemon over to the host, so no sweep stops it");
        new LeftoverSweeper(context).Sweep().Removed.Should().BeEmpty();
        record.IsDaemonAlive.Should().BeTrue();
        Encrypting.Lock(context, unlocked);
        AssertNoRuntimeLeftovers();
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "qemu-img")]
    public void A_kill_during_protect_leaves_a_daemon_mount_and_work_file_that_are_counted_and_swept()
    {
        var volume = Scattered("plain");
        var before = Files.HashFile(volume.Path);

        var owner = RunAndKill( "protect", volume.Path, Passphrase);

        var work = Directory.GetFileSystemEntries(pool.PoolPath, $"{SiblingFile.PartialMarker}{owner}-*").Should().ContainSingle().Subject;
        var record = FuseExportRecord.Read(pool.Runtime.FuseExports, work)!;
        record.IsOwnerGone.Should().BeTrue();
        record.IsDaemonAlive.Should().BeTrue();
        MountTable.Read().Should().Contain(m => m.MountPoint == record.ExportPath);
        var partialBytes = PartialFiles.AllocatedBytes(work);
        partialBytes.Should().BeGreaterThan(2L << 20, "the LUKS header and some encrypted data were written");
        pool.Pools.Get().Single().PartialBytes.Should().Be(partialBytes, "Get-StoragePool counts the work file until it is swept");

        var report = new LeftoverSweeper(context).Sweep();

        report.Removed.Should().Contain(r => r.Contains($"pid {record.ProcessId}")).And.Contain(r => r.Contains(Path.GetFileName(work)));
        report.Kept.Should().BeEmpty();
        ProcessIdentity.Of(record.ProcessId).Should().BeNull();
        Path.Exists(work).Should().BeFalse();
        pool.Pools.Get().Single().PartialBytes.Should().Be(0);
        Files.HashFile(volume.Path).Should().Be(before, "the plain volume was never touched");
        new VolumeCatalog(context).Get(volume.Path).Encryption.Should().Be("None");
        SecretDirectoriesOf(owner).Should().BeEmpty();
        AssertNoRuntimeLeftovers();
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact]
    public void A_kill_during_copy_leaves_a_work_file_that_is_counted_and_swept()
    {
        var volume = Scattered("source");

        var owner = RunAndKill( "copy", volume.Path, null, "clone");

        var work = Directory.GetFileSystemEntries(pool.PoolPath, $"{SiblingFile.PartialMarker}{owner}-*").Should().ContainSingle().Subject;
        var partialBytes = PartialFiles.AllocatedBytes(work);
        partialBytes.Should().BeGreaterThan(0);
        pool.Pools.Get().Single().PartialBytes.Should().Be(partialBytes);
        File.Exists(Path.Combine(pool.PoolPath, "clone.img")).Should().BeFalse();

        new LeftoverSweeper(context).Sweep().Removed.Should().ContainSingle().Which.Should().Contain(Path.GetFileName(work));

        Path.Exists(work).Should().BeFalse();
        pool.Pools.Get().Single().PartialBytes.Should().Be(0);
    }

    [IntegrationFact]
    public void A_kill_during_backup_leaves_a_work_directory_that_the_next_backup_removes()
    {
        var volume = Scattered("backed");
        var destination = Directory.CreateDirectory(pool.Combine("backups")).FullName;

        var owner = RunAndKill( "backup", volume.Path, null, destination);

        var folder = Directory.GetDirectories(destination).Should().ContainSingle().Subject;
        var work = Directory.GetFileSystemEntries(folder, $"{SiblingFile.PartialMarker}{owner}-*").Should().ContainSingle().Subject;
        PartialFiles.AllocatedBytes(work).Should().BeGreaterThan(0, "blocks were being stored");
        var backups = new Backups.VolumeBackupService(context);

        var set = backups.Apply(backups.Plan(volume, new Backups.BackupRequest { Destination = destination }));

        Path.Exists(work).Should().BeFalse();
        Directory.GetFileSystemEntries(folder).Should().NotContain(e => Path.GetFileName(e).StartsWith(SiblingFile.PartialMarker, StringComparison.Ordinal));
        Directory.Exists(set.BackupPath).Should().BeTrue();
    }

    private int RunAndKill(string scenario, string volumePath, string? passphrase, params string[] extra)
    {
        var pid = CrashedOperation.RunAndKill(pool, scenario, volumePath, passphrase, extra);
        killed.Add(pid);
        return pid;
    }

    private SparseVolume Encrypted(string name)
    {
        using var key = VolumeKey.FromPassphrase(Passphrase);
        return Encrypting.Protect(context, Scattered(name), [key]);
    }

    private SparseVolume Scattered(string name)
    {
        var path = Path.Combine(pool.PoolPath, name + ".img");
        ScatteredImage.Write(path, 1L << 30, chunks: 48);
        return new VolumeCatalog(context).Get(path);
    }

    private static List<string> SecretDirectoriesOf(int pid) =>
        Directory.GetDirectories(SecretFile.TmpfsRoot, $"sparsestorage-secret-{pid}-*").ToList();

    /// <summary>No record, pid file, monitor socket or export file is left in the pool's runtime directory.</summary>
    private void AssertNoRuntimeLeftovers() =>
        (Directory.Exists(pool.Runtime.FuseExports) ? Directory.GetFileSystemEntries(pool.Runtime.FuseExports) : []).Should().BeEmpty();

    public void Dispose()
    {
        foreach (var secret in killed.SelectMany(SecretDirectoriesOf))
            SecretFile.Destroy(secret);
        pool.Dispose();
    }
}
