using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Snapshots;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>Snapshots on real images, loop devices and mounts: qcow2 internal, raw sparse copies, raw reflinks on xfs.</summary>
public sealed class SnapshotTests : IDisposable
{
    private readonly TestPool pool = new();
    private readonly StorageContext context;
    private readonly SnapshotService snapshots;

    public SnapshotTests()
    {
        context = pool.Context();
        snapshots = new SnapshotService(context);
    }

    [IntegrationTheory("losetup", "mount", "mkfs.ext4", "qemu-img", "qemu-storage-daemon", "fsfreeze")]
    [InlineData(VolumeFormat.Raw, SnapshotKind.SparseCopy)]
    [InlineData(VolumeFormat.Qcow2, SnapshotKind.Qcow2Internal)]
    public void Snapshot_of_a_mounted_volume_then_write_then_restore_brings_back_the_snapshot_content(VolumeFormat format, SnapshotKind kind)
    {
        var volume = Create("snap", format);
        var mountPoint = pool.Combine("mnt");
        var mounter = new VolumeMounter(context);
        var mounted = mounter.Mount(volume, mountPoint, readOnly: false);
        var atSnapshot = Files.WriteSample(mountPoint);

        var snapshot = snapshots.Create(mounted, "before-upgrade");

        snapshot.Kind.Should().Be(kind);
        snapshot.Name.Should().Be("before-upgrade");
        snapshot.SizeBytes.Should().Be(volume.SizeBytes);
        snapshot.CreatedUtc.Should().BeCloseTo(DateTime.UtcNow, TimeSpan.FromMinutes(1));
        File.WriteAllText(Path.Combine(mountPoint, "after.txt"), "written after the snapshot, so the filesystem is not left frozen");
        Files.WriteSample(mountPoint);
        Files.Hash(mountPoint, atSnapshot.Keys).Should().NotEqual(atSnapshot);
        new VolumeCatalog(context).Get(volume.Path).SnapshotCount.Should().Be(1);
        mounter.Dismount(new VolumeCatalog(context).Get(volume.Path));

        snapshots.Restore(snapshot);

        var again = mounter.Mount(volume, mountPoint, readOnly: true);
        Files.Hash(mountPoint, atSnapshot.Keys).Should().Equal(atSnapshot);
        File.Exists(Path.Combine(mountPoint, "after.txt")).Should().BeFalse();
        mounter.Dismount(again);
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("qemu-img")]
    public void Qcow2_snapshots_are_read_natively_as_qemu_img_lists_them()
    {
        var volume = Create("list", VolumeFormat.Qcow2, FileSystemType.None);
        foreach (var name in new[] { "nightly-1", "nightly-2", "weekly" })
            snapshots.Create(volume, name);

        var listed = snapshots.List(volume);
        var tool = new ProcessRunner().RunChecked(new ToolCommand("qemu-img", "snapshot", "-l", volume.Path)).StandardOutput;

        listed.Select(s => s.Name).Should().Equal("nightly-1", "nightly-2", "weekly");
        foreach (var snapshot in listed)
            tool.Should().MatchRegex($@"(?m)^{snapshot.Id}\s+{snapshot.Name}\s");
        snapshots.Get(volume, ["nightly-*"]).Select(s => s.Name).Should().Equal("nightly-1", "nightly-2");

        foreach (var snapshot in snapshots.Get(volume, ["nightly-*"]).ToList())
            snapshots.Remove(snapshot);
        snapshots.List(volume).Select(s => s.Name).Should().Equal("weekly");
        new ProcessRunner().RunChecked(new ToolCommand("qemu-img", "snapshot", "-l", volume.Path)).StandardOutput.Should().NotContain("nightly");
    }

    [IntegrationFact("losetup", "mount", "mkfs.xfs", "mkfs.ext4")]
    public void Raw_snapshots_on_an_xfs_pool_are_reflinks_that_share_blocks()
    {
        using var xfs = LoopMountedPool.XfsReflink(pool);
        var creator = new VolumeCreator(context);
        var volume = creator.Create(creator.Plan(new NewVolumeRequest { Name = "shared", Pool = xfs.Name, Size = ByteSize.FromMiB(512) }));
        ScatteredImage.Scribble(volume.Path, chunks: 256);
        var before = Libc.Space(xfs.Path).AvailableBytes;

        var snapshot = snapshots.Create(volume, "instant");

        snapshot.Kind.Should().Be(SnapshotKind.Reflink);
        snapshot.SnapshotPath.Should().Be(Path.Combine(xfs.Path, ".snapshots", "shared.img", "instant.img"));
        Libc.Space(xfs.Path).AvailableBytes.Should().BeGreaterThan(before - (16L << 20), "a reflink shares the 256 MiB instead of copying them");
        Sha(snapshot.SnapshotPath!).Should().Be(Sha(volume.Path));

        var original = Sha(volume.Path);
        ScatteredImage.Scribble(volume.Path, chunks: 8, seed: 99);
        Sha(volume.Path).Should().NotBe(original);
        snapshots.Restore(snapshot);
        Sha(volume.Path).Should().Be(original);

        new VolumeRemover(context).Remove(new VolumeCatalog(context).Get(volume.Path), wipe: false);
        Directory.Exists(Path.Combine(xfs.Path, ".snapshots")).Should().BeFalse("removing a volume removes its raw snapshots");
    }

    [IntegrationFact("losetup", "mount", "mkfs.ext4", "fsfreeze")]
    public void Bad_input_is_refused_and_changes_nothing()
    {
        var volume = Create("bad", VolumeFormat.Raw);
        var snapshot = snapshots.Create(volume, "one");

        FluentActions.Invoking(() => snapshots.Create(volume, "one")).Should().Throw<ResourceExistsException>().Which.ErrorId.Should().Be("SnapshotExists");
        FluentActions.Invoking(() => snapshots.Find(volume, "nosuch")).Should().Throw<SnapshotNotFoundException>().WithMessage("*'nosuch'*its snapshots are: one.*");
        FluentActions.Invoking(() => snapshots.Create(volume, "42")).Should().Throw<InvalidStorageArgumentException>();
        FluentActions.Invoking(() => snapshots.Create(volume, "../escape")).Should().Throw<InvalidStorageArgumentException>();
        var missing = new List<string>();
        snapshots.Get(volume, ["one", "ghost"], e => missing.Add(e.Message)).Should().ContainSingle();
        missing.Should().ContainSingle().Which.Should().Contain("'ghost'");

        var mountPoint = pool.Combine("busy");
        var mounted = new VolumeMounter(context).Mount(volume, mountPoint, readOnly: false);
        var content = Files.WriteSample(mountPoint, count: 1);
        FluentActions.Invoking(() => snapshots.Restore(snapshot)).Should().Throw<VolumeInUseException>().WithMessage($"*mounted at {mountPoint}*");
        Files.Hash(mountPoint, content.Keys).Should().Equal(content);
        new VolumeMounter(context).Dismount(mounted);
        snapshots.List(volume).Should().ContainSingle();
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("losetup", "mkfs.ext4")]
    public void A_volume_attached_without_a_mount_cannot_be_frozen_and_needs_AllowUnpausedWrites_which_the_plan_warns_about()
    {
        var volume = Create("loopy", VolumeFormat.Raw);
        var runner = new ProcessRunner();
        var device = runner.RunChecked(new ToolCommand("losetup", "--find", "--show", volume.Path)).StandardOutput.Trim();
        try
        {
            var attached = new VolumeCatalog(context).Get(volume.Path);
            var plan = snapshots.Plan(new NewSnapshotRequest(attached, "unsafe") { AllowUnpausedWrites = true });
            plan.Consistency.Should().Be(WriteConsistency.Unfrozen);
            plan.Warnings.Should().ContainSingle().Which.Should().Contain(device).And.Contain("cannot be paused").And.Contain("snapshot 'unsafe'");
            FluentActions.Invoking(() => snapshots.Create(attached, "unsafe")).Should().Throw<VolumeInUseException>().WithMessage($"*{device}*-AllowUnpausedWrites*");
            snapshots.List(attached).Should().BeEmpty();
            snapshots.Create(attached, "unsafe", allowUnpausedWrites: true).Kind.Should().Be(SnapshotKind.SparseCopy);
        }
        finally
        {
            runner.Run(new ToolCommand("losetup", "--detach", device));
        }
    }

    private SparseVolume Create(string name, VolumeFormat format, FileSystemType fileSystem = FileSystemType.Ext4) =>
        pool.CreateVolume(context, name, ByteSize.FromMiB(256), format, fileSystem);

    private static string Sha(string path) => Files.HashFile(path);


    public void Dispose() => pool.Dispose();
}
