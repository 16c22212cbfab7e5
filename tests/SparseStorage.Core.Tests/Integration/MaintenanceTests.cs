using System.Security.Cryptography;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Maintenance;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>Optimize-SparseVolume and Test-SparseVolume on real filesystems, loop devices and FUSE exports.</summary>
public sealed class MaintenanceTests : IDisposable
{
    private const int Deleted = 96 << 20;
    private readonly TestPool pool = new();
    private readonly StorageContext context;

    public MaintenanceTests() => context = pool.Context();

    [IntegrationTheory("losetup", "mount", "mkfs.ext4", "fstrim", "qemu-img", "qemu-storage-daemon")]
    [InlineData(VolumeFormat.Raw)]
    [InlineData(VolumeFormat.Qcow2)]
    public void Optimize_gives_back_the_space_of_files_deleted_inside_a_dismounted_volume(VolumeFormat format)
    {
        var volume = Create("thin", format);
        var kept = WriteThenDeleteInside(volume);
        var bloated = new VolumeCatalog(context).Get(volume.Path).AllocatedBytes;

        var result = new VolumeOptimizer(context).Optimize(volume);

        result.AllocatedBeforeBytes.Should().Be(bloated);
        result.ReclaimedBytes.Should().BeGreaterThan(Deleted * 8L / 10, "the deleted 96 MiB go back to the pool");
        result.AllocatedAfterBytes.Should().Be(Libc.Stat(volume.Path).AllocatedBytes);
        result.Steps.Should().Contain(s => s.StartsWith("fstrim --verbose "));
        var mounter = new VolumeMounter(context);
        var mounted = mounter.Mount(volume, pool.Combine("check"), readOnly: true);
        Files.Hash(mounted.MountPoint!, kept.Keys).Should().Equal(kept);
        mounter.Dismount(mounted);
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("qemu-img", "qemu-io")]
    public void Qcow2_compaction_reports_qemu_img_progress_as_it_copies()
    {
        var volume = Create("progress", VolumeFormat.Qcow2, FileSystemType.None);
        new ProcessRunner().RunChecked(new ToolCommand("qemu-io", "-f", "qcow2", "-c", "write -P 7 0 32M", volume.Path));
        var progress = new RecordedProgress();

        var result = new VolumeOptimizer(context).Optimize(new VolumeCatalog(context).Get(volume.Path), progress);

        result.Steps.Should().Contain(s => s.StartsWith("qemu-img convert -p -f qcow2 -O qcow2 "));
        var copying = progress.Reports.Where(r => r.Total == QemuImgProgress.Total).ToList();
        copying.Should().NotBeEmpty("qemu-img -p reports its percentage while it copies");
        copying.Select(r => r.Done).Should().BeInAscendingOrder().And.EndWith(QemuImgProgress.Total);
        copying.Should().AllSatisfy(r => r.Activity.Should().Be("Optimizing progress"));
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("losetup", "mount", "mkfs.ext4", "fstrim")]
    public void Optimize_of_a_mounted_volume_trims_online_and_says_what_it_skipped()
    {
        var volume = Create("online", VolumeFormat.Raw);
        var mounter = new VolumeMounter(context);
        var mounted = mounter.Mount(volume, pool.Combine("online"), readOnly: false);
        var big = Path.Combine(mounted.MountPoint!, "big.bin");
        File.WriteAllBytes(big, RandomNumberGenerator.GetBytes(Deleted));
        new ProcessRunner().RunChecked(new ToolCommand("sync", "-f", big));
        File.Delete(big);
        new ProcessRunner().RunChecked(new ToolCommand("sync", "-f", mounted.MountPoint!));

        var result = new VolumeOptimizer(context).Optimize(new VolumeCatalog(context).Get(volume.Path));

        result.ReclaimedBytes.Should().BeGreaterThan(Deleted * 8L / 10);
        result.Skipped.Should().Contain(s => s.Contains("mounted"));
        result.Volume.IsMounted.Should().BeTrue("an online trim leaves the mount as it was");
        mounter.Dismount(result.Volume);
    }

    [IntegrationFact("losetup", "mount", "mkfs.ext4", "fstrim")]
    public void The_plan_lists_the_steps_and_changes_nothing()
    {
        var volume = Create("planned", VolumeFormat.Raw);
        WriteThenDeleteInside(volume);
        var allocated = Libc.Stat(volume.Path).AllocatedBytes;

        var plan = new VolumeOptimizer(context).Plan(new VolumeCatalog(context).Get(volume.Path));

        plan.Steps.Should().Contain(s => s.StartsWith("losetup ")).And.Contain(s => s.StartsWith("fstrim --verbose ")).And.Contain(s => s.StartsWith("punch holes"));
        Libc.Stat(volume.Path).AllocatedBytes.Should().Be(allocated);
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact]
    public void Optimize_punches_holes_in_zero_blocks_of_an_image_without_a_filesystem()
    {
        var path = Path.Combine(pool.PoolPath, "blank.img");
        ScatteredImage.Write(path, 256L << 20, chunks: 4);
        ScatteredImage.WriteZeros(path, 128L << 20, 32 << 20);
        var hash = Files.HashFile(path);

        var result = new VolumeOptimizer(context).Optimize(new VolumeCatalog(context).Get(path));

        result.ReclaimedBytes.Should().BeGreaterThanOrEqualTo(32L << 20);
        result.Skipped.Should().Contain(s => s.StartsWith("fstrim"));
        Files.HashFile(path).Should().Be(hash);
    }

    [IntegrationTheory("mkfs.ext4", "mkfs.xfs", "e2fsck", "xfs_repair", "qemu-img", "qemu-storage-daemon")]
    [InlineData(VolumeFormat.Raw, FileSystemType.Ext4, "e2fsck -f -n ")]
    [InlineData(VolumeFormat.Raw, FileSystemType.Xfs, "xfs_repair -n -f ")]
    [InlineData(VolumeFormat.Qcow2, FileSystemType.Ext4, "e2fsck -f -n ")]
    public void A_fresh_volume_tests_healthy(VolumeFormat format, FileSystemType fileSystem, string checker)
    {
        var volume = Create("fresh", format, fileSystem, ByteSize.FromMiB(320));

        var result = new VolumeChecker(context).Test(volume);

        result.IsHealthy.Should().BeTrue(string.Join("; ", result.Findings));
        result.Checks.Should().Contain(c => c.StartsWith(checker));
        if (format == VolumeFormat.Qcow2)
            result.Checks.Should().Contain(c => c.StartsWith("qemu-img check --output=json "));
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("mkfs.ext4", "e2fsck", "debugfs")]
    public void A_damaged_filesystem_and_a_cut_image_are_findings_and_nothing_is_repaired()
    {
        var volume = Create("damaged", VolumeFormat.Raw);
        new ProcessRunner().RunChecked(new ToolCommand("debugfs", "-w", "-R", "clri <2>", volume.Path));
        var hash = Files.HashFile(volume.Path);

        var result = new VolumeChecker(context).Test(volume);

        result.IsHealthy.Should().BeFalse();
        result.Findings.Should().Contain(f => f.Check == "e2fsck" && f.Severity == FindingSeverity.Error);
        Files.HashFile(volume.Path).Should().Be(hash, "a test only reads");

        using (var file = new FileStream(volume.Path, FileMode.Open)) file.SetLength(64L << 20);
        var cut = new VolumeChecker(context).Test(new VolumeCatalog(context).Get(volume.Path));
        cut.Findings.Should().Contain(f => f.Check == "image" && f.Severity == FindingSeverity.Error && f.Message.Contains("cut short"));
    }

    /// <summary>Writes a file that stays and one that is deleted again, each flushed, then dismounts; returns the kept file's hash.</summary>
    private Dictionary<string, string> WriteThenDeleteInside(SparseVolume volume)
    {
        var mounter = new VolumeMounter(context);
        var mounted = mounter.Mount(volume, pool.Combine("fill"), readOnly: false);
        var kept = Files.WriteSample(mounted.MountPoint!, count: 1);
        var big = Path.Combine(mounted.MountPoint!, "big.bin");
        File.WriteAllBytes(big, RandomNumberGenerator.GetBytes(Deleted));
        new ProcessRunner().RunChecked(new ToolCommand("sync", "-f", big));
        File.Delete(big);
        mounter.Dismount(new VolumeCatalog(context).Get(volume.Path));
        return kept;
    }

    private SparseVolume Create(string name, VolumeFormat format, FileSystemType fileSystem = FileSystemType.Ext4, ByteSize? size = null) =>
        pool.CreateVolume(context, name, size ?? ByteSize.FromMiB(256), format, fileSystem);


    public void Dispose() => pool.Dispose();
}
