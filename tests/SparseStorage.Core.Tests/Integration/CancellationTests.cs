using SparseStorage.Core.Backups;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Snapshots;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Maintenance;
using SparseStorage.Core.Volumes.Resize;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Each long operation cancelled part-way, as Ctrl+C does through the cmdlet's token: it throws
/// OperationCanceledException and leaves no file under the final name, no work file, no loop device, mount or daemon,
/// and its source as it was.
/// </summary>
[Collection(DeadFuseDaemonCollection.Name)]
public sealed class CancellationTests : IDisposable
{
    private readonly TestPool pool = new();
    private readonly StorageContext context;
    private readonly CancellationTokenSource cancel = new();

    public CancellationTests() => context = pool.Context();

    [IntegrationFact("zstd", "tar")]
    public void A_cancelled_archive_leaves_no_archive_and_the_volume_unchanged()
    {
        var volume = Scattered("arch");
        var before = Files.HashFile(volume.Path);
        var archive = pool.Combine("arch.img" + ArchiveService.Extension);

        FluentActions.Invoking(() => Archive(new ArchiveService(context), volume, archive, CancelAt(3), cancel.Token))
            .Should().Throw<OperationCanceledException>();

        File.Exists(archive).Should().BeFalse();
        AssertNoWorkFiles(pool.Root);
        Files.HashFile(volume.Path).Should().Be(before);
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("zstd", "tar")]
    public void A_cancelled_expand_leaves_no_volume_and_the_archive_unchanged()
    {
        var archives = new ArchiveService(context);
        var archive = pool.Combine("exp.img" + ArchiveService.Extension);
        Archive(archives, Scattered("exp"), archive);
        var before = Files.HashFile(archive);
        var plan = archives.Plan(new ExpandVolumeRequest(archive, Path.Combine(pool.PoolPath, "expanded.img")));

        FluentActions.Invoking(() => archives.Apply(plan, CancelAt(2), cancel.Token)).Should().Throw<OperationCanceledException>();

        File.Exists(plan.TargetPath).Should().BeFalse();
        AssertNoWorkFiles(pool.Root);
        Files.HashFile(archive).Should().Be(before);
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact]
    public void A_cancelled_restore_from_backup_leaves_no_volume_and_the_set_unchanged()
    {
        var destination = pool.Combine("backups");
        Directory.CreateDirectory(destination);
        var backups = new VolumeBackupService(context);
        var set = backups.Apply(backups.Plan(Scattered("src"), new BackupRequest { Destination = destination }));
        var setHashes = Directory.GetFiles(set.BackupPath).ToDictionary(f => f, Files.HashFile);
        var restorer = new BackupRestorer(context);
        var plan = restorer.Plan(set.BackupPath, "restored.img");

        FluentActions.Invoking(() => restorer.Apply(plan, CancelAt(2), cancel.Token)).Should().Throw<OperationCanceledException>();

        File.Exists(plan.TargetPath).Should().BeFalse();
        AssertNoWorkFiles(pool.Root);
        Directory.GetFiles(set.BackupPath).ToDictionary(f => f, Files.HashFile).Should().BeEquivalentTo(setHashes);
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact]
    public void A_cancelled_snapshot_restore_leaves_the_volume_as_it_was()
    {
        var volume = Scattered("snap");
        var snapshots = new SnapshotService(context);
        var snapshot = snapshots.Create(volume, "before");
        ScatteredImage.Scribble(volume.Path, chunks: 16, seed: 3);
        var before = Files.HashFile(volume.Path);

        FluentActions.Invoking(() => snapshots.Restore(snapshot, CancelAt(1), cancel.Token)).Should().Throw<OperationCanceledException>();

        Files.HashFile(volume.Path).Should().Be(before);
        AssertNoWorkFiles(pool.Root);
        snapshots.List(new VolumeCatalog(context).Get(volume.Path)).Select(s => s.Name).Should().Equal("before");
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup", "qemu-img", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4")]
    public void A_cancelled_protect_leaves_the_volume_plain_and_unchanged_with_no_daemon_or_loop_device()
    {
        var volume = pool.CreateVolume(context, "plain", ByteSize.FromMiB(256));
        var before = Files.HashFile(volume.Path);
        using var key = VolumeKey.FromPassphrase("correct horse battery staple");

        FluentActions.Invoking(() => Encrypting.Protect(context, volume, [key], CancelAt(2), cancel.Token))
            .Should().Throw<OperationCanceledException>();

        var after = new VolumeCatalog(context).Get(volume.Path);
        after.Format.Should().Be(VolumeFormat.Raw);
        after.Encryption.Should().Be("None");
        Files.HashFile(volume.Path).Should().Be(before);
        AssertNoWorkFiles(pool.Root);
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup", "qemu-img", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4")]
    public void A_cancelled_unprotect_leaves_the_volume_encrypted_and_unchanged_with_no_daemon_or_loop_device()
    {
        using var key = VolumeKey.FromPassphrase("correct horse battery staple");
        var encrypted = Encrypting.Protect(context, pool.CreateVolume(context, "secret", ByteSize.FromMiB(256)), [key]);
        var before = Files.HashFile(encrypted.Path);

        FluentActions.Invoking(() => Encrypting.Unprotect(context, encrypted, [key], CancelAt(2), cancel.Token))
            .Should().Throw<OperationCanceledException>();

        new VolumeCatalog(context).Get(encrypted.Path).Encryption.Should().NotBe("None");
        Files.HashFile(encrypted.Path).Should().Be(before);
        AssertNoWorkFiles(pool.Root);
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("losetup", "mount", "mkfs.ext4", "e2fsck", "resize2fs")]
    public void A_cancelled_grow_leaves_a_sound_volume_that_a_second_run_grows()
    {
        var volume = pool.CreateVolume(context, "grow", ByteSize.FromMiB(128));
        var resizer = new VolumeResizer(context);

        FluentActions.Invoking(() => resizer.Resize(ResizeRequest.To(volume, ByteSize.FromMiB(256)), CancelAt(2), cancel.Token))
            .Should().Throw<OperationCanceledException>();

        pool.AssertNothingLeftBehind();
        AssertNoWorkFiles(pool.Root);
        AssertFileSystemSound(volume.Path);
        var result = resizer.Resize(ResizeRequest.To(new VolumeCatalog(context).Get(volume.Path), ByteSize.FromMiB(256)));
        result.NewSizeBytes.Should().Be(256L << 20);
        result.FileSystemSizeBytes.Should().Be(256L << 20);
    }

    [IntegrationFact("losetup", "mount", "mkfs.ext4", "e2fsck", "fstrim")]
    public void A_cancelled_optimize_leaves_a_sound_volume_and_no_temporary_mount()
    {
        var volume = pool.CreateVolume(context, "trim", ByteSize.FromMiB(128));
        var sizeBefore = new FileInfo(volume.Path).Length;

        FluentActions.Invoking(() => new VolumeOptimizer(context).Optimize(volume, CancelAt(2), cancel.Token))
            .Should().Throw<OperationCanceledException>();

        pool.AssertNothingLeftBehind();
        AssertNoWorkFiles(pool.Root);
        new FileInfo(volume.Path).Length.Should().Be(sizeBefore);
        AssertFileSystemSound(volume.Path);
    }

    /// <summary>A progress listener that cancels at its n-th report, so that the operation is stopped part-way.</summary>
    private IProgress<OperationProgress> CancelAt(int report) => new CancelAtReport(cancel, report);

    private static VolumeArchive Archive(ArchiveService archives, SparseVolume volume, string archive, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        archives.Apply(archives.Plan(new CompressVolumeRequest(volume, archive)), progress, cancellationToken);

    private SparseVolume Scattered(string name)
    {
        var path = Path.Combine(pool.PoolPath, name + ".img");
        ScatteredImage.Write(path, 1L << 30, chunks: 96);
        return new VolumeCatalog(context).Get(path);
    }

    private static void AssertNoWorkFiles(string root) =>
        Directory.GetFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Where(e => Path.GetFileName(e).Contains(SiblingFile.PartialMarker, StringComparison.Ordinal))
            .Should().BeEmpty("work files are removed when an operation is cancelled");

    private static void AssertFileSystemSound(string image) =>
        new ProcessRunner().Run(new ToolCommand("e2fsck", "-fn", image)).ExitCode.Should().Be(0, "the filesystem is intact after the cancellation");

    public void Dispose()
    {
        cancel.Dispose();
        pool.Dispose();
    }

    private sealed class CancelAtReport(CancellationTokenSource cancel, int report) : IProgress<OperationProgress>
    {
        private int reports;

        public void Report(OperationProgress value)
        {
            if (Interlocked.Increment(ref reports) == report)
                cancel.Cancel();
        }
    }
}
