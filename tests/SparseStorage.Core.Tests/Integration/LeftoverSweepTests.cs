using System.Diagnostics;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Host;
using SparseStorage.Core.Leftovers;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Work files and key files named after processes: the sweep removes those whose owner is proven gone (pid missing,
/// or reused by a process with another start time) and keeps those of live processes and every name it cannot parse.
/// </summary>
public sealed class LeftoverSweepTests : IDisposable
{
    private readonly TestPool pool = new();
    private readonly StorageContext context;
    private readonly List<string> secretDirectories = [];

    public LeftoverSweepTests() => context = pool.Context();

    [Fact]
    public void Work_files_of_dead_processes_are_counted_then_swept_and_those_of_live_ones_stay()
    {
        var dead = DeadProcess();
        var ofDead = WorkFile(pool.PoolPath, dead, "copy.img", megabytes: 3);
        var ofReusedPid = WorkFile(pool.PoolPath, ProcessIdentity.Current with { StartTime = ProcessIdentity.Current.StartTime + 1 }, "reused.img", megabytes: 1);
        var inSnapshots = WorkFile(Directory.CreateDirectory(pool.Combine("pool", ".snapshots", "vol.img")).FullName, dead, "before.img", megabytes: 1);
        var ofLive = WorkFile(pool.PoolPath, ProcessIdentity.Current, "restore.img", megabytes: 2);
        var unprovable = Path.Combine(pool.PoolPath, ".old.img.partial-1a2b3c4d");
        File.WriteAllBytes(unprovable, new byte[1 << 20]);
        var before = pool.Pools.Get().Single();

        var report = new LeftoverSweeper(context).Sweep();

        before.PartialBytes.Should().Be(8L << 20, "every work file whose name the module gives counts until swept");
        before.AllocatedBytes.Should().Be(0, "work files are not volumes");
        report.Removed.Should().HaveCount(3);
        File.Exists(ofDead).Should().BeFalse();
        File.Exists(ofReusedPid).Should().BeFalse("the pid runs, but not the process that made the file");
        File.Exists(inSnapshots).Should().BeFalse();
        File.Exists(ofLive).Should().BeTrue("its owner is at work");
        File.Exists(unprovable).Should().BeTrue("a name without an owner proves nothing");
        pool.Pools.Get().Single().PartialBytes.Should().Be(3L << 20, "the live one and the unprovable one still count");
    }

    /// <summary>The attack: a tenant plants a link named like a dead process's work file; the sweep unlinks it and leaves its target alone.</summary>
    [Fact]
    public void A_planted_link_with_a_work_file_name_is_unlinked_never_followed()
    {
        var outside = Directory.CreateDirectory(pool.Combine("outside")).FullName;
        var victimFile = Path.Combine(outside, "precious.img");
        File.WriteAllText(victimFile, "precious");
        var dead = DeadProcess();
        var fileLink = Path.Combine(pool.PoolPath, $"{SiblingFile.PartialMarker}{dead}-0badc0de-file.img");
        var directoryLink = Path.Combine(pool.PoolPath, $"{SiblingFile.PartialMarker}{dead}-0badc0df-dir.img");
        File.CreateSymbolicLink(fileLink, victimFile);
        Directory.CreateSymbolicLink(directoryLink, outside);

        pool.Pools.Get().Single().PartialBytes.Should().Be(0, "a link occupies nothing worth counting and is never followed");
        new LeftoverSweeper(context).Sweep();

        new FileInfo(fileLink).Exists.Should().BeFalse();
        Path.Exists(directoryLink).Should().BeFalse();
        File.ReadAllText(victimFile).Should().Be("precious");
    }

    [Fact]
    public void Key_files_of_dead_processes_are_destroyed_and_those_of_live_ones_stay()
    {
        var dead = SecretDirectory(DeadProcess());
        var live = SecretDirectory(ProcessIdentity.Current);
        var foreignName = SecretDirectory(null);

        new LeftoverSweeper(context).Sweep();

        Directory.Exists(dead).Should().BeFalse();
        Directory.Exists(live).Should().BeTrue();
        Directory.Exists(foreignName).Should().BeTrue("not a name the module gives");
    }

    [Fact]
    public void The_work_folder_of_a_backup_destination_is_swept_on_its_own()
    {
        var folder = Directory.CreateDirectory(pool.Combine("backups", "vol")).FullName;
        var ofDead = Directory.CreateDirectory(SiblingFile.TemporaryIn(folder, "20250101T000000000Z-full").Replace(ProcessIdentity.Current.ToString(), DeadProcess().ToString())).FullName;
        File.WriteAllBytes(Path.Combine(ofDead, "blocks.dat"), new byte[1 << 20]);
        var ofLive = Directory.CreateDirectory(SiblingFile.TemporaryIn(folder, "20250102T000000000Z-full")).FullName;

        PartialFiles.AllocatedBytes(ofDead).Should().Be(1L << 20);
        new LeftoverSweeper(context).SweepDirectory(folder).Removed.Should().ContainSingle();

        Directory.Exists(ofDead).Should().BeFalse();
        Directory.Exists(ofLive).Should().BeTrue();
    }

    [Fact]
    public void A_record_written_for_a_daemon_that_never_started_goes_once_its_owner_is_gone()
    {
        var directory = pool.Runtime.Ensure(pool.Runtime.FuseExports);
        var orphan = Pending(directory, Path.Combine(pool.PoolPath, "never.img"), DeadProcess());
        var starting = Pending(directory, Path.Combine(pool.PoolPath, "starting.img"), ProcessIdentity.Current);
        context.ReadAttachments().Of(orphan.VolumePath).FuseExport.Should().NotBeNull("Lock-Volume sees it");

        var report = new LeftoverSweeper(context).Sweep();

        report.Removed.Should().ContainSingle().Which.Should().Contain(orphan.VolumePath);
        FuseExportRecord.Read(directory, orphan.VolumePath).Should().BeNull();
        File.Exists(orphan.ExportPath).Should().BeFalse();
        FuseExportRecord.Read(directory, starting.VolumePath).Should().NotBeNull("its owner is starting the daemon");
    }

    private static FuseExportRecord Pending(string directory, string volumePath, ProcessIdentity owner)
    {
        var record = new FuseExportRecord(volumePath, FuseExportRecord.ExportPathFor(directory, volumePath), 0, Decrypting: true) { Owner = owner };
        record.Save(directory);
        File.WriteAllBytes(record.ExportPath, []);
        return record;
    }

    /// <summary>A process this test started and killed: its identity is certainly gone.</summary>
    internal static ProcessIdentity DeadProcess()
    {
        using var sleeper = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        var identity = ProcessIdentity.Of(sleeper.Id)!.Value;
        sleeper.Kill();
        sleeper.WaitForExit();
        identity.IsAlive.Should().BeFalse();
        return identity;
    }

    private static string WorkFile(string directory, ProcessIdentity owner, string name, int megabytes)
    {
        var path = Path.Combine(directory, $"{SiblingFile.PartialMarker}{owner}-{Guid.NewGuid().ToString("N")[..8]}-{name}");
        File.WriteAllBytes(path, new byte[megabytes << 20]);
        return path;
    }

    private string SecretDirectory(ProcessIdentity? owner)
    {
        var name = owner is { } o ? $"sparsestorage-secret-{o}-{Guid.NewGuid():N}"[..^16] : $"sparsestorage-secret-test-{Guid.NewGuid():N}";
        var directory = Directory.CreateDirectory(Path.Combine(SecretFile.TmpfsRoot, name)).FullName;
        File.WriteAllText(Path.Combine(directory, "key"), "not a real key");
        secretDirectories.Add(directory);
        return directory;
    }

    public void Dispose()
    {
        foreach (var directory in secretDirectories.Where(Directory.Exists))
            Directory.Delete(directory, recursive: true);
        pool.Dispose();
    }
}
