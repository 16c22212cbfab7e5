using SparseStorage.Core.Copying;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>Copy-SparseVolume's engine: full clones that keep holes, linked clones on a read-only base, and the refusals.</summary>
public sealed class CopyTests : IDisposable
{
    private readonly TestPool pool = new();
    private readonly StorageContext context;
    private readonly VolumeCopier copier;

    public CopyTests()
    {
        context = pool.Context();
        copier = new VolumeCopier(context);
    }

    [IntegrationFact("cmp", "losetup", "mount", "mkfs.ext4", "fsfreeze")]
    public void A_full_copy_of_a_mounted_volume_is_identical_sparse_and_leaves_no_temporary_file()
    {
        var source = Create("web01", VolumeFormat.Raw);
        var mountPoint = pool.Combine("mnt");
        var mounter = new VolumeMounter(context);
        var mounted = mounter.Mount(source, mountPoint, readOnly: false);
        var content = Files.WriteSample(mountPoint);

        var copy = copier.Copy(copier.Plan(mounted, new CopyVolumeRequest { Destination = "web02" }));

        copy.Path.Should().Be(Path.Combine(pool.PoolPath, "web02.img"));
        copy.FileSystem.Should().Be(FileSystemType.Ext4);
        File.WriteAllText(Path.Combine(mountPoint, "thawed.txt"), "the source was thawed after the copy");
        mounter.Dismount(new VolumeCatalog(context).Get(source.Path));
        var copyMount = mounter.Mount(copy, pool.Combine("copy"), readOnly: true);
        Files.Hash(copyMount.MountPoint!, content.Keys).Should().Equal(content);
        mounter.Dismount(copyMount);
        Libc.Stat(copy.Path).AllocatedBytes.Should().BeLessThanOrEqualTo(Libc.Stat(source.Path).AllocatedBytes + (1 << 20));
        Directory.GetFiles(pool.PoolPath, ".*").Should().BeEmpty("the temporary name was renamed");
    }

    [IntegrationFact("cmp", "qemu-img")]
    public void A_qcow2_copy_with_zero_detection_into_another_directory_of_the_pool_is_identical()
    {
        var source = Create("q", VolumeFormat.Qcow2, FileSystemType.None);
        Directory.CreateDirectory(Path.Combine(pool.PoolPath, "sub"));

        var copy = copier.Copy(copier.Plan(source, new CopyVolumeRequest { Destination = Path.Combine(pool.PoolPath, "sub"), DetectZeroes = true }));

        copy.Path.Should().Be(Path.Combine(pool.PoolPath, "sub", "q.qcow2"));
        copy.Format.Should().Be(VolumeFormat.Qcow2);
        new ProcessRunner().Run(new ToolCommand("qemu-img", "compare", source.Path, copy.Path)).ExitCode.Should().Be(0);
    }

    [IntegrationFact("losetup", "mount", "mkfs.ext4", "qemu-img", "qemu-storage-daemon")]
    public void A_linked_clone_reads_through_its_read_only_base_which_cannot_then_be_removed()
    {
        var @base = Create("golden", VolumeFormat.Raw);
        var mounter = new VolumeMounter(context);
        var baseMount = mounter.Mount(@base, pool.Combine("golden"), readOnly: false);
        var content = Files.WriteSample(baseMount.MountPoint!);
        mounter.Dismount(baseMount);

        var clone = copier.Copy(copier.Plan(@base, new CopyVolumeRequest { Destination = "tenant7", Linked = true }));

        clone.Format.Should().Be(VolumeFormat.Qcow2);
        clone.BackingFile.Should().Be(@base.Path);
        clone.AllocatedBytes.Should().BeLessThan(1 << 20, "a linked clone copies no data");
        (File.GetUnixFileMode(@base.Path) & (UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)).Should().Be(UnixFileMode.None);
        var cloneMount = mounter.Mount(clone, pool.Combine("tenant7"), readOnly: false);
        Files.Hash(cloneMount.MountPoint!, content.Keys).Should().Equal(content);
        File.WriteAllText(Path.Combine(cloneMount.MountPoint!, "own.txt"), "the clone's own write");
        mounter.Dismount(new VolumeCatalog(context).Get(clone.Path));

        var baseNow = new VolumeCatalog(context).Get(@base.Path);
        FluentActions.Invoking(() => new VolumeRemover(context).Remove(baseNow, wipe: false)).Should().Throw<VolumeInUseException>().WithMessage("*tenant7.qcow2*");
        FluentActions.Invoking(() => mounter.Mount(baseNow, pool.Combine("rw"), readOnly: false)).Should().Throw<VolumeInUseException>().WithMessage("*linked clone*");
        FluentActions.Invoking(() => new Volumes.Maintenance.VolumeOptimizer(context).Optimize(baseNow)).Should().Throw<VolumeInUseException>().WithMessage("*tenant7.qcow2*");
        File.Exists(@base.Path).Should().BeTrue();

        new VolumeRemover(context).Remove(new VolumeCatalog(context).Get(clone.Path), wipe: false);
        new VolumeRemover(context).Remove(new VolumeCatalog(context).Get(@base.Path), wipe: false);
        File.Exists(@base.Path).Should().BeFalse("without clones the base can go");
        LoopDevices.Read().Should().NotContain(l => l.BackingFile.StartsWith(pool.Root));
    }

    [IntegrationFact("mkfs.ext4")]
    public void Bad_destinations_are_refused_before_anything_is_written()
    {
        var source = Create("src", VolumeFormat.Raw);
        Create("taken", VolumeFormat.Raw);
        var outside = new TempDirectory("outside");
        try
        {
            FluentActions.Invoking(() => copier.Plan(source, new CopyVolumeRequest { Destination = "taken" }))
                .Should().Throw<ResourceExistsException>().WithMessage("*-Replace*");
            FluentActions.Invoking(() => copier.Plan(source, new CopyVolumeRequest { Destination = outside.Combine("x.img") }))
                .Should().Throw<PathOutsidePoolException>();
            FluentActions.Invoking(() => copier.Plan(source, new CopyVolumeRequest { Destination = "src" }))
                .Should().Throw<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("DestinationIsSource");
            FluentActions.Invoking(() => copier.Plan(source, new CopyVolumeRequest { Destination = "clone.qcow2" }))
                .Should().Throw<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("InvalidVolumeExtension");
            FluentActions.Invoking(() => copier.Plan(source, new CopyVolumeRequest { Destination = Path.Combine(pool.PoolPath, "..", "up.img") }))
                .Should().Throw<PathOutsidePoolException>();
            FluentActions.Invoking(() => copier.Plan(source, new CopyVolumeRequest { Destination = "lz", Linked = true, DetectZeroes = true }))
                .Should().Throw<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("LinkedWithDetectZeroes");
            Directory.GetFiles(pool.PoolPath).Select(Path.GetFileName).Should().BeEquivalentTo(["src.img", "taken.img"]);

            var snapshot = new Snapshots.SnapshotService(context).Create(new VolumeCatalog(context).Get(Path.Combine(pool.PoolPath, "taken.img")), "keep");
            FluentActions.Invoking(() => copier.Plan(source, new CopyVolumeRequest { Destination = "taken", Replace = true }))
                .Should().Throw<ResourceExistsException>().Which.ErrorId.Should().Be("VolumeHasSnapshots");
            new Snapshots.SnapshotService(context).Remove(snapshot);

            var replaced = copier.Copy(copier.Plan(source, new CopyVolumeRequest { Destination = "taken", Replace = true }));
            Files.HashFile(replaced.Path).Should().Be(Files.HashFile(source.Path));
        }
        finally
        {
            outside.Dispose();
        }
    }

    [IntegrationFact]
    public void A_cancelled_copy_leaves_nothing_under_the_final_name()
    {
        var source = Path.Combine(pool.PoolPath, "big.img");
        ScatteredImage.Write(source, 8L << 30, chunks: 512);
        using var cancel = new CancellationTokenSource();
        var plan = copier.Plan(new VolumeCatalog(context).Get(source), new CopyVolumeRequest { Destination = "half", DetectZeroes = true });

        FluentActions.Invoking(() => copier.Copy(plan, new CancelOnFirstReport(cancel), cancel.Token)).Should().Throw<OperationCanceledException>();

        Directory.GetFiles(pool.PoolPath).Select(Path.GetFileName).Should().Equal("big.img");
    }

    private SparseVolume Create(string name, VolumeFormat format, FileSystemType fileSystem = FileSystemType.Ext4) =>
        pool.CreateVolume(context, name, ByteSize.FromMiB(128), format, fileSystem);

    public void Dispose() => pool.Dispose();
}
