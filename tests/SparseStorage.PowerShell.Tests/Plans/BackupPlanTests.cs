using System.Collections;
using SparseStorage.PowerShell.Tests.Runtime;

namespace SparseStorage.PowerShell.Tests.Plans;

/// <summary>
/// Backups and snapshots in the real runtime: -WhatIf lists the plan's steps and changes nothing in the pool or the
/// backup destination, and the real run starts exactly those steps. A volume whose writes cannot be paused needs
/// -AllowUnpausedWrites, which -Force does not stand in for.
/// </summary>
[Collection(PowerShellRuntimeCollection.Name)]
[CoversPlanOf("Backup-SparseVolume", "Restore-SparseVolume", "Remove-VolumeBackup", "New-VolumeSnapshot", "Restore-VolumeSnapshot", "Remove-VolumeSnapshot")]
public sealed class BackupPlanTests(PowerShellRuntime runtime) : IDisposable
{
    private readonly TempPool pool = new(runtime);

    [IntegrationFact("qemu-img", "mkfs.ext4")]
    public void Backup_full_then_incremental_then_with_Keep_runs_the_planned_steps()
    {
        var volumes = pool.NewVolumes();

        var full = PlanRoundTrip.Check(runtime, "Backup-SparseVolume -Path $Raw -Destination $Spare", volumes, State);
        Scribble((string)volumes["Raw"]!);
        var incremental = PlanRoundTrip.Check(runtime, "Backup-SparseVolume -Path $Raw -Destination $Spare", volumes, State);
        var kept = PlanRoundTrip.Check(runtime, "Backup-SparseVolume -Path $Raw -Destination $Spare -Full -Keep 1", volumes, State);

        full.Planned.Should().Contain(s => s.Contains("new full set", StringComparison.Ordinal));
        incremental.Planned.Should().Contain(s => s.Contains("new incremental set", StringComparison.Ordinal));
        kept.Planned.Where(s => s.StartsWith("Remove backup set ", StringComparison.Ordinal)).Should().HaveCount(2, "-Keep 1 lets the older chain go");
        Sets().Should().ContainSingle();
    }

    [IntegrationFact("qemu-img", "mkfs.ext4")]
    public void Restore_of_a_backup_onto_its_volume_and_beside_it_runs_the_planned_steps()
    {
        var volumes = pool.NewVolumes();
        volumes["Set"] = Backup(volumes);

        var beside = PlanRoundTrip.Check(runtime, "Restore-SparseVolume -Backup $Set -Destination r2", volumes, State);
        var onto = PlanRoundTrip.Check(runtime, "Restore-SparseVolume -Backup $Set", volumes, State);

        beside.Planned[^1].Should().StartWith("Rename it to ");
        onto.Planned[^1].Should().Be($"Rename it over {volumes["Raw"]}");
        onto.WhatIf.Verbose.Should().NotBeEmpty();
        File.Exists(Path.Combine(pool.Directory, "r2.img")).Should().BeTrue();
    }

    [IntegrationFact("qemu-img", "mkfs.ext4")]
    public void Remove_VolumeBackup_with_its_dependants_runs_the_planned_steps()
    {
        var volumes = pool.NewVolumes();
        var full = Backup(volumes);
        Scribble((string)volumes["Raw"]!);
        Backup(volumes);
        volumes["Set"] = full;

        var removal = PlanRoundTrip.Check(runtime, "Remove-VolumeBackup -Backup $Set -IncludeDependants", volumes, State);

        removal.Planned.Should().HaveCount(2).And.AllSatisfy(s => s.Should().StartWith("Remove backup set "));
        removal.Planned[^1].Should().Be($"Remove backup set {full}", "the set asked for goes last, after the set built on it");
        Sets().Should().BeEmpty();
    }

    [IntegrationFact("qemu-img", "mkfs.ext4")]
    public void Snapshots_are_taken_restored_and_removed_by_their_planned_steps()
    {
        var volumes = pool.NewVolumes();

        var raw = PlanRoundTrip.Check(runtime, "New-VolumeSnapshot -VolumePath $Raw -Name s1", volumes, State);
        var qcow = PlanRoundTrip.Check(runtime, "New-VolumeSnapshot -VolumePath $Qcow -Name s1", volumes, State);
        var restoreRaw = PlanRoundTrip.Check(runtime, "Restore-VolumeSnapshot -VolumePath $Raw -Name s1", volumes, State);
        var restoreQcow = PlanRoundTrip.Check(runtime, "Restore-VolumeSnapshot -VolumePath $Qcow -Name s0", volumes, State);
        var removeRaw = PlanRoundTrip.Check(runtime, "Remove-VolumeSnapshot -VolumePath $Raw -Name s1", volumes, State);
        var removeQcow = PlanRoundTrip.Check(runtime, "Get-VolumeSnapshot -VolumePath $Qcow | Remove-VolumeSnapshot", volumes, State);

        qcow.Planned.Should().Equal($"qemu-img snapshot -c s1 {volumes["Qcow"]}");
        restoreQcow.Planned.Should().Equal($"qemu-img snapshot -a s0 {volumes["Qcow"]}");
        removeQcow.Planned.Should().Equal($"qemu-img snapshot -d s0 {volumes["Qcow"]}", $"qemu-img snapshot -d s1 {volumes["Qcow"]}");
        raw.Planned.Should().HaveCount(2);
        restoreRaw.Planned[^1].Should().Be($"Rename it over {volumes["Raw"]}");
        removeRaw.Planned.Should().HaveCount(2);
        runtime.Run("Get-VolumeSnapshot -VolumePath $Raw; Get-VolumeSnapshot -VolumePath $Qcow", volumes).Succeeded().Output.Should().BeEmpty();
    }

    [IntegrationFact("qemu-img", "mkfs.ext4", "losetup")]
    public void Writes_that_cannot_be_paused_need_AllowUnpausedWrites_not_Force_and_the_plan_warns_once()
    {
        var volumes = pool.NewVolumes();
        var device = Tool("losetup", "--find", "--show", (string)volumes["Raw"]!).Trim();
        try
        {
            foreach (var command in new[] { "New-VolumeSnapshot -VolumePath $Raw -Name live", "Backup-SparseVolume -Path $Raw -Destination $Spare" })
            {
                var before = State();
                runtime.Run(command + " -Force", volumes).Error.FullyQualifiedErrorId.Should().StartWith("VolumeInUse");
                runtime.Run(command + " -Force", volumes).Error.Exception.Message.Should().Contain("-AllowUnpausedWrites").And.Contain(device);
                State().Should().Equal(before, "-Force only skips confirmation");

                var allowed = runtime.Run(command + " -AllowUnpausedWrites", volumes).Succeeded();

                allowed.Warnings.Should().ContainSingle().Which.Message.Should().Contain("writes cannot be paused").And.Contain(device);
                allowed.Output.Should().ContainSingle();
            }
        }
        finally
        {
            Tool("losetup", "--detach", device);
        }
    }

    private string Backup(Hashtable volumes) =>
        (string)runtime.Run("Backup-SparseVolume -Path $Raw -Destination $Spare", volumes).Succeeded().Output.Single().Properties["BackupPath"].Value;

    /// <summary>The backup sets in the destination (hidden work or removal folders are none).</summary>
    private IReadOnlyList<string> Sets() =>
        Directory.EnumerateDirectories(pool.Spare).SelectMany(Directory.EnumerateDirectories).Where(d => !Path.GetFileName(d).StartsWith('.')).ToList();

    /// <summary>Changes a few bytes past the filesystem's superblocks, so the next backup has something new to store.</summary>
    private static void Scribble(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write) { Position = 8 << 20 };
        file.Write("changed"u8);
    }

    /// <summary>The pool and the backup destination: every file with its size and time.</summary>
    private IReadOnlyList<string> State() =>
        pool.Snapshot().Concat(Directory.EnumerateFileSystemEntries(pool.Spare, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(p => new FileInfo(p) is { Exists: true } f ? $"{p} {f.Length} {f.LastWriteTimeUtc:O}" : p)).ToList();

    private static string Tool(string tool, params string[] arguments)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(tool, arguments) { RedirectStandardOutput = true })!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        process.ExitCode.Should().Be(0, $"{tool} {string.Join(' ', arguments)} succeeds");
        return output;
    }

    public void Dispose() => pool.Dispose();
}
