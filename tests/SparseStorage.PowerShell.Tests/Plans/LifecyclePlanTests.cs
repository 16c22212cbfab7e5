using System.Collections;
using System.Diagnostics;
using System.Security.Cryptography;
using SparseStorage.PowerShell.Tests.Runtime;

namespace SparseStorage.PowerShell.Tests.Plans;

/// <summary>
/// The volume lifecycle and pool registration in the real runtime: -WhatIf lists the plan's steps and changes nothing,
/// and the real run starts exactly those steps. Mounts are real loop mounts in a temporary directory, taken down after.
/// </summary>
[Collection(PowerShellRuntimeCollection.Name)]
[CoversPlanOf("New-SparseVolume", "Remove-SparseVolume", "Mount-SparseVolume", "Dismount-SparseVolume", "Copy-SparseVolume",
    "Register-StoragePool", "Unregister-StoragePool", "Compress-SparseVolume", "Expand-SparseVolume")]
public sealed class LifecyclePlanTests(PowerShellRuntime runtime) : IDisposable
{
    private readonly TempPool pool = new(runtime);

    [IntegrationTheory("mkfs.ext4", "qemu-img")]
    [InlineData("-Format Raw -FileSystem Ext4")]
    [InlineData("-Format Qcow2 -FileSystem Ext4")]
    [InlineData("-Format Qcow2 -Preallocation Full")]
    public void New_SparseVolume_runs_the_steps_it_plans(string options)
    {
        var outcome = PlanRoundTrip.Check(runtime, $"New-SparseVolume -Name n1 -Pool $Pool -Size 16MB {options}", Parameters(), pool.Snapshot);

        var target = Path.Combine(pool.Directory, "n1" + (options.Contains("Qcow2") ? ".qcow2" : ".img"));
        outcome.Planned[^1].Should().Be(
            $"rename {pool.Directory}/.sparsestorage-partial-<process, start time, random>-{Path.GetFileName(target)} to {target}");
        outcome.Applying.Output.Should().ContainSingle().Which.Properties["Path"].Value.Should().Be(target);
    }

    [IntegrationFact("mkfs.ext4", "qemu-img")]
    public void New_SparseVolume_Replace_replaces_and_Force_alone_does_not()
    {
        var existing = pool.NewVolume("again");

        var refused = runtime.Run("New-SparseVolume -Name again -Pool $Pool -Size 32MB -Force", Parameters());
        refused.Error.FullyQualifiedErrorId.Should().StartWith("VolumeExists");
        refused.Error.Exception.Message.Should().Contain("-Replace");

        PlanRoundTrip.Check(runtime, "New-SparseVolume -Name again -Pool $Pool -Size 32MB -Replace", Parameters(), pool.Snapshot);
        new FileInfo(existing).Length.Should().Be(32L << 20);
    }

    [IntegrationFact("mkfs.ext4", "qemu-img")]
    public void Remove_SparseVolume_wipes_and_deletes_what_it_plans_with_its_snapshots()
    {
        var volumes = pool.NewVolumes();
        runtime.Run("New-VolumeSnapshot -VolumePath $Raw -Name keep", volumes).Succeeded();
        var raw = (string)volumes["Raw"]!;

        var outcome = PlanRoundTrip.Check(runtime, "Remove-SparseVolume -Path $Raw -Wipe -PassThru", volumes, pool.Snapshot);

        outcome.Planned.Should().HaveCount(3);
        outcome.Planned[0].Should().StartWith("wipe and delete snapshot 'keep' (");
        outcome.Planned[1].Should().MatchRegex($"^wipe [0-9.]+ [KM]iB of data in {raw}$");
        outcome.Planned[2].Should().Be($"delete {raw}");
        File.Exists(raw).Should().BeFalse();
        pool.Names().Should().Equal("q.qcow2");
    }

    [IntegrationFact("mkfs.ext4", "losetup", "mount")]
    public void Mount_and_Dismount_SparseVolume_run_the_steps_they_plan()
    {
        var raw = pool.NewVolume("m", extra: "-FileSystem Ext4");
        var mountPoint = Path.Combine(runtime.Root, "mnt-" + pool.Name);
        var parameters = new Hashtable { ["Raw"] = raw, ["MountPoint"] = mountPoint };
        try
        {
            var mount = PlanRoundTrip.Check(runtime, "Mount-SparseVolume -Path $Raw -MountPoint $MountPoint", parameters, () => Use(raw, mountPoint));

            mount.Planned.Should().Equal($"create directory {mountPoint}", $"losetup --find --show {raw}", $"mount -t ext4 <loop device> {mountPoint}");
            var device = Loops(raw).Should().ContainSingle().Subject;
            mount.Applied[2].Should().Be($"mount -t ext4 {device} {mountPoint}");

            var dismount = PlanRoundTrip.Check(runtime, "Dismount-SparseVolume -Path $Raw -PassThru", parameters, () => Use(raw, mountPoint));

            dismount.Planned.Should().Equal($"umount {mountPoint}", $"losetup --detach {device}");
            Use(raw, mountPoint).Should().Equal($"directory {mountPoint}");
        }
        finally
        {
            TakeDown(raw, mountPoint);
        }
    }

    [IntegrationTheory("mkfs.ext4", "qemu-img")]
    [InlineData("-Destination copy1")]
    [InlineData("-Destination copy1 -DetectZeroes")]
    [InlineData("-Destination copy1 -Linked")]
    public void Copy_SparseVolume_runs_the_steps_it_plans(string options)
    {
        var volumes = pool.NewVolumes();

        var outcome = PlanRoundTrip.Check(runtime, $"Copy-SparseVolume -Path $Raw {options}", volumes, pool.Snapshot);

        var copy = Path.Combine(pool.Directory, options.Contains("Linked") ? "copy1.qcow2" : "copy1.img");
        outcome.Planned[^1].Should().EndWith($" to {copy}");
        File.Exists(copy).Should().BeTrue();
        if (!options.Contains("Linked"))
            Hash(copy).Should().Be(Hash((string)volumes["Raw"]!));
    }

    [IntegrationFact("mkfs.ext4", "losetup", "mount", "fsfreeze")]
    public void Copy_SparseVolume_of_a_mounted_source_freezes_it_for_the_copy_as_planned()
    {
        var raw = pool.NewVolume("live", extra: "-FileSystem Ext4");
        var mountPoint = Path.Combine(runtime.Root, "live-" + pool.Name);
        var parameters = new Hashtable { ["Raw"] = raw, ["MountPoint"] = mountPoint };
        try
        {
            runtime.Run("Mount-SparseVolume -Path $Raw -MountPoint $MountPoint", parameters).Succeeded();

            var outcome = PlanRoundTrip.Check(runtime, "Copy-SparseVolume -Path $Raw -Destination live2", parameters, pool.Snapshot);

            outcome.Planned[0].Should().Be($"fsfreeze --freeze {mountPoint}");
            outcome.Planned[2].Should().Be($"fsfreeze --unfreeze {mountPoint}");
        }
        finally
        {
            TakeDown(raw, mountPoint);
        }
    }

    [IntegrationFact("mkfs.ext4", "losetup")]
    public void Copy_SparseVolume_Force_does_not_copy_a_source_whose_writes_cannot_be_paused_and_AllowInUseSource_does_with_a_warning()
    {
        var raw = pool.NewVolume("held", extra: "-FileSystem Ext4");
        var device = Run("losetup", "--find", "--show", raw);
        try
        {
            var parameters = new Hashtable { ["Raw"] = raw };
            var refused = runtime.Run("Copy-SparseVolume -Path $Raw -Destination held2 -Force", parameters);
            refused.Error.FullyQualifiedErrorId.Should().StartWith("VolumeInUse");
            refused.Error.Exception.Message.Should().Contain("-AllowInUseSource");

            var allowed = runtime.Run("Copy-SparseVolume -Path $Raw -Destination held2 -AllowInUseSource -WhatIf", parameters).Succeeded();
            allowed.Warnings.Should().ContainSingle().Which.Message.Should().Contain(device);
            File.Exists(Path.Combine(pool.Directory, "held2.img")).Should().BeFalse();
        }
        finally
        {
            Run("losetup", "--detach", device);
        }
    }

    [IntegrationFact("mkfs.ext4", "tar", "zstd")]
    public void Compress_and_Expand_SparseVolume_run_the_steps_they_plan()
    {
        var volumes = pool.NewVolumes();
        var raw = (string)volumes["Raw"]!;
        var archive = Path.Combine(pool.Spare, "r.img.tar.zst");
        IReadOnlyList<string> State() => [.. pool.Snapshot(), .. Directory.EnumerateFileSystemEntries(pool.Spare).Order(StringComparer.Ordinal)];

        var compress = PlanRoundTrip.Check(runtime, "Compress-SparseVolume -Path $Raw -Destination $Spare -Level 5", volumes, State);
        compress.Planned[^1].Should().EndWith($"and rename it to {archive}");
        File.Exists(archive).Should().BeTrue();

        var parameters = new Hashtable { ["Archive"] = archive, ["Target"] = Path.Combine(pool.Directory, "back.img") };
        var expand = PlanRoundTrip.Check(runtime, "Expand-SparseVolume -Path $Archive -Destination $Target", parameters, State);
        expand.Planned.Should().HaveCount(2);
        Hash(Path.Combine(pool.Directory, "back.img")).Should().Be(Hash(raw));

        var again = runtime.Run("Expand-SparseVolume -Path $Archive -Destination $Target -Force", parameters);
        again.Error.FullyQualifiedErrorId.Should().StartWith("VolumeExists");
        PlanRoundTrip.Check(runtime, "Compress-SparseVolume -Path $Raw -Destination $Spare -Replace", volumes, State);
    }

    [Fact]
    public void Register_and_Unregister_StoragePool_change_the_configuration_as_planned()
    {
        var name = pool.Name + "r";
        var directory = Directory.CreateDirectory(Path.Combine(runtime.Root, name)).FullName;
        var parameters = new Hashtable { ["Name"] = name, ["Directory"] = directory };
        IReadOnlyList<string> State() =>
            [Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(runtime.ConfigurationPath))), .. Directory.EnumerateFileSystemEntries(directory)];
        try
        {
            var register = PlanRoundTrip.Check(runtime, "Register-StoragePool -Name $Name -Path $Directory -MaxOvercommit 2.5", parameters, State);
            register.Planned.Should().Equal($"add pool '{name}' at {directory} (overcommit at most 2.5) to {runtime.ConfigurationPath}");

            var unregister = PlanRoundTrip.Check(runtime, "Unregister-StoragePool -Name $Name -PassThru", parameters, State);
            unregister.Planned.Should().Equal($"remove pool '{name}' ({directory}) from {runtime.ConfigurationPath}");
            unregister.Applying.Output.Should().ContainSingle().Which.Properties["Name"].Value.Should().Be(name);
        }
        finally
        {
            runtime.Run("Unregister-StoragePool -Name $Name -Confirm:$false -ErrorAction SilentlyContinue", parameters);
            Directory.Delete(directory, recursive: true);
        }
    }

    public void Dispose() => pool.Dispose();

    private Hashtable Parameters() => new() { ["Pool"] = pool.Name };

    /// <summary>What a mount changes: the mount point's existence, its mounts, and the loop devices of the volume.</summary>
    private static IReadOnlyList<string> Use(string volume, string mountPoint) =>
    [
        .. Directory.Exists(mountPoint) ? [$"directory {mountPoint}"] : Array.Empty<string>(),
        .. File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Split(' ')[4] == mountPoint).Select(l => $"mounted {mountPoint}"),
        .. Loops(volume).Select(d => $"loop {d}"),
    ];

    private static IReadOnlyList<string> Loops(string volume) =>
        Run("losetup", "--noheadings", "--output", "NAME", "--associated", volume).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToList();

    /// <summary>Unmounts and detaches what a test mounted, with plain tools, whether or not the test got that far.</summary>
    private static void TakeDown(string volume, string mountPoint)
    {
        if (File.ReadAllLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == mountPoint))
            Run("umount", mountPoint);
        foreach (var device in Loops(volume))
            Run("losetup", "--detach", device);
        if (Directory.Exists(mountPoint))
            Directory.Delete(mountPoint);
    }

    private static string Hash(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(file));
    }

    private static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        process.ExitCode.Should().Be(0, "{0} {1} failed: {2}", tool, string.Join(' ', arguments), process.StandardError.ReadToEnd());
        return output.Trim();
    }
}
