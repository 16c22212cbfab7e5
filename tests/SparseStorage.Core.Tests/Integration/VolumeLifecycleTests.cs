using SparseStorage.Core.Completion;
using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>The whole life of a volume on real loop devices, filesystems, qemu-img and qemu-storage-daemon.</summary>
public sealed class VolumeLifecycleTests : IDisposable
{
    private readonly TestPool pool = new();
    private readonly StorageContext context;

    public VolumeLifecycleTests() => context = pool.Context();

    [IntegrationTheory("losetup", "mount", "qemu-img", "qemu-storage-daemon", "mkfs.ext4", "mkfs.xfs", "mkfs.btrfs")]
    [InlineData(VolumeFormat.Raw, FileSystemType.Ext4)]
    [InlineData(VolumeFormat.Raw, FileSystemType.Xfs)]
    [InlineData(VolumeFormat.Raw, FileSystemType.Btrfs)]
    [InlineData(VolumeFormat.Qcow2, FileSystemType.Ext4)]
    [InlineData(VolumeFormat.Qcow2, FileSystemType.Xfs)]
    [InlineData(VolumeFormat.Qcow2, FileSystemType.Btrfs)]
    public void Create_mount_write_dismount_remount_read_remove(VolumeFormat format, FileSystemType fileSystem)
    {
        var creator = new VolumeCreator(context);
        var volume = creator.Create(creator.Plan(new NewVolumeRequest
        {
            Name = "life", Size = ByteSize.FromMiB(512), Format = format, FileSystem = fileSystem, Label = "life",
        }));
        volume.Format.Should().Be(format);
        volume.FileSystem.Should().Be(fileSystem);
        volume.Label.Should().Be("life");
        volume.SizeBytes.Should().Be(512L << 20);
        volume.AllocatedBytes.Should().BeLessThan(volume.SizeBytes / 4, "a new volume is thin");

        var mounter = new VolumeMounter(context);
        var mountPoint = pool.Combine("mnt");
        var mounted = mounter.Mount(volume, mountPoint, readOnly: false);
        mounted.IsMounted.Should().BeTrue();
        mounted.MountPoint.Should().Be(mountPoint);
        mounted.LoopDevice.Should().StartWith("/dev/loop");
        var sums = Files.WriteSample(mountPoint);
        mounter.Dismount(mounted).IsAttached.Should().BeFalse();
        LoopDevices.Read().Should().NotContain(l => l.BackingFile.StartsWith(pool.Root), "dismount detaches the loop device");

        var again = mounter.Mount(volume, mountPoint, readOnly: true);
        again.IsReadOnly.Should().BeTrue();
        Files.Hash(mountPoint, sums.Keys).Should().Equal(sums);
        FluentActions.Invoking(() => File.WriteAllText(Path.Combine(mountPoint, "x"), "x")).Should().Throw<IOException>();
        mounter.Dismount(again);

        new VolumeRemover(context).Remove(volume, wipe: false);
        File.Exists(volume.Path).Should().BeFalse();
        NothingLeftBehind();
    }

    [IntegrationFact("losetup", "mount", "mkfs.ext4")]
    public void A_volume_mounted_by_hand_shows_as_mounted_and_is_protected()
    {
        var volume = CreateExt4("byhand");
        var runner = new ProcessRunner();
        var device = runner.RunChecked(new ToolCommand("losetup", "--find", "--show", volume.Path)).StandardOutput.Trim();
        Directory.CreateDirectory(pool.Combine("hand"));
        runner.RunChecked(new ToolCommand("mount", device, pool.Combine("hand")));

        var seen = new VolumeCatalog(context).Get(volume.Path);
        seen.IsMounted.Should().BeTrue();
        seen.LoopDevice.Should().Be(device);
        seen.MountPoint.Should().Be(pool.Combine("hand"));

        FluentActions.Invoking(() => new VolumeRemover(context).Remove(seen, wipe: false)).Should().Throw<VolumeInUseException>()
            .WithMessage($"*mounted at {pool.Combine("hand")}*");
        FluentActions.Invoking(() => new VolumeMounter(context).Mount(seen, pool.Combine("other"), false)).Should().Throw<VolumeInUseException>();
        var creator = new VolumeCreator(context);
        var replace = new NewVolumeRequest { Name = "byhand", Size = ByteSize.FromMiB(64), FileSystem = FileSystemType.Ext4, Replace = true };
        FluentActions.Invoking(() => creator.Plan(replace)).Should().Throw<VolumeInUseException>("re-formatting a mounted volume is refused");
        File.Exists(volume.Path).Should().BeTrue();
        FluentActions.Invoking(() => pool.Pools.Unregister(TestPool.Name, context.ReadAttachments())).Should().Throw<VolumeInUseException>()
            .WithMessage("*byhand.img*dismount it before unregistering*");

        new VolumeMounter(context).Dismount(seen).IsAttached.Should().BeFalse();
        NothingLeftBehind();
    }

    [IntegrationFact("losetup", "mount", "mkfs.ext4")]
    public void Listing_by_name_pool_and_path_agree()
    {
        CreateExt4("web01");
        CreateExt4("web02");
        CreateExt4("db01");
        var catalog = new VolumeCatalog(context);
        catalog.ByName(["web*"]).Select(v => v.Name).Should().Equal("web01", "web02");
        catalog.ByName(["*"], TestPool.Name).Should().HaveCount(3);
        catalog.ByPath(pool.PoolPath).Select(v => v.Name).Should().Equal("db01", "web01", "web02");
        catalog.ByPath(Path.Combine(pool.PoolPath, "db01.img")).Single().Pool.Should().Be(TestPool.Name);
        var missing = new List<string>();
        catalog.ByName(["web01", "nosuch"], onMissing: e => missing.Add(e.Message)).Should().HaveCount(1);
        missing.Should().ContainSingle().Which.Should().Contain("'nosuch'");
    }

    [IntegrationFact("losetup", "mount", "mkfs.ext4")]
    public void Volumes_are_found_by_their_loop_device_and_completion_offers_those_devices()
    {
        var mounted = new VolumeMounter(context).Mount(CreateExt4("web01"), pool.Combine("web01"), readOnly: false);
        CreateExt4("web02");
        File.WriteAllBytes(pool.Combine("foreign.img"), new byte[1 << 20]);
        var foreign = new ProcessRunner().RunChecked(new ToolCommand("losetup", "--find", "--show", pool.Combine("foreign.img"))).StandardOutput.Trim();
        var catalog = new VolumeCatalog(context);

        catalog.ByLoopDevice([mounted.LoopDevice!]).Select(v => v.Name).Should().Equal("web01");
        catalog.ByLoopDevice([Path.GetFileName(mounted.LoopDevice!)]).Single().MountPoint.Should().Be(pool.Combine("web01"));
        catalog.ByLoopDevice(["/dev/loop*"]).Select(v => v.Name).Should().Equal("web01");
        var missing = new List<string>();
        catalog.ByLoopDevice([foreign, "/dev/loop99999"], e => missing.Add(e.Message)).Should().BeEmpty();
        missing.Should().BeEquivalentTo(
            $"'{foreign}' is attached to '{pool.Combine("foreign.img")}', which is not a volume of a registered pool.",
            "'/dev/loop99999' is not an attached loop device.");
        CompletionCandidates.LoopDevices(context).Should().Equal(mounted.LoopDevice);

        new ProcessRunner().RunChecked(new ToolCommand("losetup", "--detach", foreign));
        new VolumeMounter(context).Dismount(catalog.Get(mounted.Path));
        NothingLeftBehind();
    }

    [IntegrationFact("mkfs.ext4")]
    public void Wipe_zeroes_the_data_before_unlinking()
    {
        var volume = CreateExt4("secret");
        using (var file = new FileStream(volume.Path, FileMode.Open, FileAccess.Write))
        {
            file.Position = 32 << 20;
            file.Write("TOP-SECRET-MARKER"u8);
        }
        // A descriptor held open keeps the inode after the unlink, so the wiped bytes can be inspected (a hard link
        // would make the file no volume at all).
        using var survivor = Native.Libc.Open(volume.Path, Native.Libc.O_RDONLY | Native.Libc.O_CLOEXEC, 0);
        new VolumeRemover(context).Remove(volume, wipe: true);

        File.Exists(volume.Path).Should().BeFalse();
        var bytes = new byte[RandomAccess.GetLength(survivor)];
        RandomAccess.Read(survivor, bytes, 0);
        bytes.Should().OnlyContain(b => b == 0);
    }

    [IntegrationFact]
    public void A_2_TiB_sparse_volume_costs_nothing_and_preallocation_reserves_everything()
    {
        var creator = new VolumeCreator(context);
        var big = creator.Create(creator.Plan(new NewVolumeRequest { Name = "big", Size = ByteSize.Parse("2TiB") }));
        big.SizeBytes.Should().Be(2L << 40);
        big.AllocatedBytes.Should().Be(0);
        var full = creator.Create(creator.Plan(new NewVolumeRequest { Name = "full", Size = ByteSize.FromMiB(64), Preallocation = Preallocation.Full }));
        full.AllocatedBytes.Should().BeGreaterThanOrEqualTo(64L << 20);
        var qcow = creator.Create(creator.Plan(new NewVolumeRequest { Name = "fullq", Size = ByteSize.FromMiB(64), Format = VolumeFormat.Qcow2, Preallocation = Preallocation.Full }));
        qcow.AllocatedBytes.Should().BeGreaterThanOrEqualTo(64L << 20);

        var accounting = pool.Pools.Get([TestPool.Name]).Single();
        accounting.ProvisionedBytes.Should().Be((2L << 40) + (128L << 20));
        accounting.VolumeCount.Should().Be(3);
    }

    [IntegrationFact("qemu-img", "mkfs.xfs")]
    public void A_plan_names_the_real_commands_and_changes_nothing()
    {
        var plan = new VolumeCreator(context).Plan(new NewVolumeRequest
        {
            Name = "planned", Size = ByteSize.FromGiB(1), Format = VolumeFormat.Qcow2, FileSystem = FileSystemType.Xfs, Label = "p",
        });
        plan.TargetPath.Should().Be(Path.Combine(pool.PoolPath, "planned.qcow2"));
        plan.Steps.Should().HaveCount(5);
        plan.Steps[1].Should().StartWith("mkfs.xfs -f -q -L p ").And.EndWith(".raw");
        plan.Steps[2].Should().StartWith("punch the unwritten (zeroed) extents of ").And.EndWith(".raw");
        plan.Steps[3].Should().StartWith("qemu-img convert -q -f raw -O qcow2 ");
        Directory.EnumerateFileSystemEntries(pool.PoolPath).Should().BeEmpty();
    }

    private SparseVolume CreateExt4(string name)
    {
        var creator = new VolumeCreator(context);
        return creator.Create(creator.Plan(new NewVolumeRequest { Name = name, Size = ByteSize.FromMiB(64), FileSystem = FileSystemType.Ext4 }));
    }

    private void NothingLeftBehind()
    {
        LoopDevices.Read().Should().NotContain(l => l.BackingFile.StartsWith(pool.Root));
        MountTable.Read().Should().NotContain(m => m.MountPoint.StartsWith(pool.Root));
        (Directory.Exists(pool.Runtime.FuseExports) ? Directory.GetFiles(pool.Runtime.FuseExports) : []).Should().BeEmpty();
        LiveProcesses.CommandLinesMentioning(pool.Root).Should().BeEmpty("no daemon may outlive a dismount");
    }

    public void Dispose() => pool.Dispose();
}
