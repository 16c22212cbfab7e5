using SparseStorage.Core.Backups;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>Backups, restores and archives on real sparse images, with the damage a backup must detect.</summary>
public sealed class BackupTests : IDisposable
{
    private readonly TestPool pool = new();
    private readonly StorageContext context;
    private readonly VolumeBackupService backups;
    private readonly string destination;

    public BackupTests()
    {
        context = pool.Context();
        backups = new VolumeBackupService(context);
        destination = pool.Combine("backups");
        Directory.CreateDirectory(destination);
    }

    [IntegrationFact("cmp")]
    public void A_three_link_chain_restores_each_point_byte_identical_and_sparse_and_incrementals_store_only_changes()
    {
        var volume = Scattered("chain", chunks: 64);
        var states = new List<(VolumeBackup Set, string Copy)>();
        for (var link = 0; link < 3; link++)
        {
            if (link > 0)
                ScatteredImage.Scribble(volume.Path, chunks: 4, seed: link);
            var set = backups.Apply(backups.Plan(Fresh(volume), new BackupRequest { Destination = destination }));
            var copy = pool.Combine($"state{link}.img");
            new ProcessRunner().RunChecked(new ToolCommand("cp", "--sparse=always", volume.Path, copy));
            states.Add((set, copy));
        }

        states.Select(s => s.Set.Kind).Should().Equal(BackupKind.Full, BackupKind.Incremental, BackupKind.Incremental);
        states[0].Set.StoredBytes.Should().BeCloseTo(64L << 20, 1 << 20);
        states[1].Set.StoredBytes.Should().BeLessThanOrEqualTo(4L << 20, "4 changed MiB are stored, nothing else");
        states[1].Set.Parent.Should().Be(states[0].Set.Name);
        states[2].Set.Parent.Should().Be(states[1].Set.Name);

        foreach (var (set, copy) in states)
        {
            var restorer = new BackupRestorer(context);
            var restored = restorer.Apply(restorer.Plan(set.BackupPath, $"restored-{set.Name}.img"));
            new ProcessRunner().Run(new ToolCommand("cmp", copy, restored.Path)).ExitCode.Should().Be(0, $"restoring {set.Name} gives the image as it was");
            Libc.Stat(restored.Path).AllocatedBytes.Should().BeCloseTo(Libc.Stat(copy).AllocatedBytes, 1 << 20);
        }
    }

    [IntegrationFact("qemu-img", "qemu-io")]
    public void A_qcow2_volume_backs_up_and_restores_as_the_same_image()
    {
        var volume = pool.CreateVolume(context, "q", ByteSize.FromMiB(256), VolumeFormat.Qcow2, FileSystemType.None);
        new ProcessRunner().RunChecked(new ToolCommand("qemu-io", "-f", "qcow2", "-c", "write -P 0x61 16M 8M", volume.Path));
        var set = backups.Apply(backups.Plan(Fresh(volume), new BackupRequest { Destination = destination }));
        new ProcessRunner().RunChecked(new ToolCommand("qemu-io", "-f", "qcow2", "-c", "write -P 0x62 16M 1M", volume.Path));

        var restorer = new BackupRestorer(context);
        var restored = restorer.Apply(restorer.Plan(set.BackupPath, "q-restored.qcow2"));

        set.Format.Should().Be(VolumeFormat.Qcow2);
        restored.Format.Should().Be(VolumeFormat.Qcow2);
        var pattern = new ProcessRunner().Run(new ToolCommand("qemu-io", "-f", "qcow2", "-c", "read -P 0x61 16M 8M", restored.Path));
        pattern.StandardOutput.Should().NotContain("Pattern verification failed").And.Contain("read 8388608/8388608");
        new ProcessRunner().Run(new ToolCommand("qemu-img", "compare", volume.Path, restored.Path)).ExitCode.Should().Be(1, "the volume changed after the backup, the restore did not");
    }

    [IntegrationFact]
    public void Damage_is_detected_and_named_and_nothing_is_restored()
    {
        var volume = Scattered("damage", chunks: 16);
        var full = backups.Apply(backups.Plan(volume, new BackupRequest { Destination = destination }));
        ScatteredImage.Scribble(volume.Path, chunks: 2, seed: 5);
        var incremental = backups.Apply(backups.Plan(Fresh(volume), new BackupRequest { Destination = destination }));
        var restorer = new BackupRestorer(context);
        var data = Path.Combine(full.BackupPath, BackupManifest.DataFileName);
        var original = File.ReadAllBytes(data);

        using (var file = new FileStream(data, FileMode.Open)) { file.Position = 3 << 20; file.WriteByte(0x5A); }
        ExpectDamage(() => restorer.Apply(restorer.Plan(incremental.BackupPath, "out.img")), "*damaged*SHA-256*");
        File.WriteAllBytes(data, original);

        File.Move(data, data + ".gone");
        ExpectDamage(() => restorer.Plan(incremental.BackupPath, "out.img"), "*data.bin*missing*");
        File.Move(data + ".gone", data);

        var manifest = Path.Combine(full.BackupPath, BackupManifest.FileName);
        var text = File.ReadAllText(manifest);
        File.WriteAllText(manifest, text.Replace("\"sizeBytes\":", "\"sizeBytes\": 1"));
        ExpectDamage(() => restorer.Plan(incremental.BackupPath, "out.img"), "*does not match its checksum*");
        File.WriteAllText(manifest, text);

        Directory.Move(full.BackupPath, full.BackupPath + "-moved");
        ExpectDamage(() => restorer.Plan(incremental.BackupPath, "out.img"), "*chain*broken*missing*");
        Directory.Move(full.BackupPath + "-moved", full.BackupPath);

        File.Exists(Path.Combine(pool.PoolPath, "out.img")).Should().BeFalse();
        Directory.GetFiles(pool.PoolPath, ".*").Should().BeEmpty("no temporary file is left");
        restorer.Apply(restorer.Plan(incremental.BackupPath, "out.img")).SizeBytes.Should().Be(volume.SizeBytes, "the repaired chain restores");
    }

    [IntegrationFact("cmp")]
    public void An_image_of_odd_length_backed_up_onto_tmpfs_restores_byte_identical_with_progress_to_the_end()
    {
        var path = Path.Combine(pool.PoolPath, "odd.img");
        ScatteredImage.Write(path, (64L << 20) + 4097, chunks: 6);
        ScatteredImage.WriteZeros(path, 64L << 20, 4097);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write) { Position = (64L << 20) + 100 };
        file.WriteByte(0x42);
        file.Dispose();
        using var shm = new SharedMemoryDirectory();
        var progress = new ProgressLog();

        var set = backups.Apply(backups.Plan(new VolumeCatalog(context).Get(path), new BackupRequest { Destination = shm.Path }), progress);

        set.StoredBytes.Should().Be(new FileInfo(Path.Combine(set.BackupPath, BackupManifest.DataFileName)).Length);
        progress.Reports.Should().NotBeEmpty();
        var reading = progress.Reports.Where(r => r.Total > 0).ToList(); // the others name the steps as they start
        reading[^1].Done.Should().Be(reading[^1].Total, "the last report of the reading says everything was read");
        var restorer = new BackupRestorer(context);
        var restored = restorer.Apply(restorer.Plan(set.BackupPath, "odd-restored.img"));
        new ProcessRunner().Run(new ToolCommand("cmp", path, restored.Path)).ExitCode.Should().Be(0, "the short last block comes back too");
    }

    [IntegrationFact]
    public void A_cancelled_backup_leaves_no_set_and_no_work_directory()
    {
        var volume = Scattered("stop", chunks: 64);
        using var cancel = new CancellationTokenSource();

        FluentActions.Invoking(() => backups.Apply(backups.Plan(volume, new BackupRequest { Destination = destination }), new CancelOnFirstReport(cancel), cancel.Token))
            .Should().Throw<OperationCanceledException>();

        Directory.GetFileSystemEntries(destination).Should().BeEmpty("the volume folder of a first backup goes with its work directory");
        backups.Apply(backups.Plan(volume, new BackupRequest { Destination = destination })).Kind.Should().Be(BackupKind.Full, "nothing half-made is built on");
    }

    [IntegrationFact]
    public void Retention_never_breaks_the_chain_of_a_kept_set()
    {
        var volume = Scattered("keep", chunks: 8);
        var sets = new List<VolumeBackup>();
        foreach (var full in new[] { true, false, true, false })
        {
            ScatteredImage.Scribble(volume.Path, chunks: 1, seed: sets.Count);
            sets.Add(backups.Apply(backups.Plan(Fresh(volume), new BackupRequest { Destination = destination, Full = full })));
        }

        var twin = pool.Combine("other-pool");
        Directory.CreateDirectory(twin);
        File.Copy(volume.Path, Path.Combine(twin, "keep.img"));
        pool.Pools.Register("other", twin);
        var other = new VolumeCatalog(context).Get(Path.Combine(twin, "keep.img"));
        foreach (var full in new[] { false, true })
            FluentActions.Invoking(() => backups.Plan(other, new BackupRequest { Destination = destination, Full = full }))
                .Should().Throw<ResourceExistsException>().Which.ErrorId.Should().Be("BackupFolderOfAnotherVolume");

        var backupSets = new BackupSetService(context);
        FluentActions.Invoking(() => backupSets.Plan(new RemoveBackupRequest(sets[0].BackupPath)))
            .Should().Throw<SparseStorageException>().Where(e => e.ErrorId == "BackupHasDependants").WithMessage($"*{sets[1].Name}*");
        Directory.CreateDirectory(Path.Combine(BackupCatalog.VolumeFolder(destination, "keep"), "lost+found"));
        var pruned = backupSets.Apply(backupSets.Plan(new KeepBackupsRequest(BackupCatalog.VolumeFolder(destination, "keep"), Keep: 1)));

        pruned.Select(s => s.Name).Should().Equal([sets[1].Name, sets[0].Name], "later sets go before the sets they build on");
        BackupCatalog.SetDirectories(BackupCatalog.VolumeFolder(destination, "keep")).Select(Path.GetFileName).Should().Equal(sets[2].Name, sets[3].Name);
        BackupCatalog.Chain(sets[3].BackupPath).Should().HaveCount(2);
        var damaged = new List<string>();
        BackupCatalog.List(destination, _ => true, e => damaged.Add(e.Message)).Should().HaveCount(2);
        damaged.Should().BeEmpty("a folder that is not a set is not a damaged set");
    }

    [IntegrationFact("losetup", "mount", "mkfs.ext4", "fsfreeze")]
    public void Bad_destinations_and_a_mounted_restore_target_are_refused()
    {
        var volume = pool.CreateVolume(context, "mounted", ByteSize.FromMiB(128));
        var mounter = new VolumeMounter(context);
        var mounted = mounter.Mount(volume, pool.Combine("mnt"), readOnly: false);
        var readOnly = pool.Combine("ro");
        Directory.CreateDirectory(readOnly);
        new ProcessRunner().RunChecked(new ToolCommand("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", readOnly));
        try
        {
            ErrorIds.Of(() => backups.Plan(mounted, new BackupRequest { Destination = mounted.MountPoint! })).Should().Be("BackupDestinationInsideVolume");
            ErrorIds.Of(() => backups.Plan(mounted, new BackupRequest { Destination = readOnly })).Should().Be("BackupDestinationNotWritable");
            ErrorIds.Of(() => backups.Plan(mounted, new BackupRequest { Destination = pool.Combine("nosuch") })).Should().Be("BackupDestinationNotFound");

            var plan = backups.Plan(mounted, new BackupRequest { Destination = destination });
            plan.Consistency.Should().Be(WriteConsistency.Frozen);
            var set = backups.Apply(plan);
            set.Consistency.Should().Be(WriteConsistency.Frozen);
            File.WriteAllText(Path.Combine(mounted.MountPoint!, "thawed.txt"), "writable again after the backup");

            var restorer = new BackupRestorer(context);
            FluentActions.Invoking(() => restorer.Plan(set.BackupPath, null)).Should().Throw<VolumeInUseException>().WithMessage("*mounted at*");
        }
        finally
        {
            new ProcessRunner().Run(new ToolCommand("umount", readOnly));
            mounter.Dismount(new VolumeCatalog(context).Get(volume.Path));
        }
    }

    [IntegrationFact("tar", "zstd", "cmp")]
    public void An_archive_expands_sparse_and_byte_identical_and_a_truncated_one_is_refused()
    {
        var volume = Scattered("arch", chunks: 32);
        var archives = new ArchiveService(context);

        var archive = archives.Apply(archives.Plan(new CompressVolumeRequest(volume, destination)));
        var archivePath = archive.Path;

        archive.Path.Should().Be(Path.Combine(destination, "arch.img.tar.zst"));
        archive.StoredBytes.Should().BeLessThan(archive.DataBytes, "half the data is text and compresses");
        File.Move(volume.Path, volume.Path + ".moved");
        var expanded = archives.Apply(archives.Plan(new ExpandVolumeRequest(archivePath, pool.PoolPath)));
        expanded.Path.Should().Be(volume.Path, "a pool directory gets the archived image's name back");
        File.Move(volume.Path, Path.Combine(pool.PoolPath, "back.img"));
        File.Move(volume.Path + ".moved", volume.Path);
        expanded = new VolumeCatalog(context).Get(Path.Combine(pool.PoolPath, "back.img"));
        new ProcessRunner().Run(new ToolCommand("cmp", volume.Path, expanded.Path)).ExitCode.Should().Be(0);
        Libc.Stat(expanded.Path).AllocatedBytes.Should().BeCloseTo(Libc.Stat(volume.Path).AllocatedBytes, 1 << 20);

        var truncated = Path.Combine(destination, "cut.img.tar.zst");
        File.WriteAllBytes(truncated, File.ReadAllBytes(archivePath)[..(int)(archive.StoredBytes / 2)]);
        FluentActions.Invoking(() => archives.Apply(archives.Plan(new ExpandVolumeRequest(truncated, Path.Combine(pool.PoolPath, "cut.img")))))
            .Should().Throw<ToolFailedException>();
        FluentActions.Invoking(() => archives.Plan(new ExpandVolumeRequest(archivePath, Path.Combine(pool.PoolPath, "arch.qcow2"))))
            .Should().NotThrow("the extension is checked against the image's format only once it is read");
        FluentActions.Invoking(() => archives.Apply(archives.Plan(new ExpandVolumeRequest(archivePath, Path.Combine(pool.PoolPath, "arch.qcow2")))))
            .Should().Throw<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("InvalidVolumeExtension");
        File.Exists(Path.Combine(pool.PoolPath, "cut.img")).Should().BeFalse();
        Directory.GetFileSystemEntries(pool.PoolPath, ".*").Should().BeEmpty("the temporary directory is removed");
    }

    private SparseVolume Scattered(string name, int chunks)
    {
        var path = Path.Combine(pool.PoolPath, name + ".img");
        ScatteredImage.Write(path, 2L << 30, chunks);
        return new VolumeCatalog(context).Get(path);
    }

    private SparseVolume Fresh(SparseVolume volume) => new VolumeCatalog(context).Get(volume.Path);

    private static void ExpectDamage(Action action, string message) =>
        FluentActions.Invoking(action).Should().Throw<BackupDamagedException>().WithMessage(message);


    private sealed class ProgressLog : IProgress<OperationProgress>
    {
        public List<OperationProgress> Reports { get; } = [];
        public void Report(OperationProgress value) => Reports.Add(value);
    }

    /// <summary>A directory on tmpfs, which has no direct I/O: the backup writes its data through the page cache there.</summary>
    private sealed class SharedMemoryDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateDirectory($"/dev/shm/sparse-test-{Guid.NewGuid():N}").FullName;
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    public void Dispose() => pool.Dispose();
}
