using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>Bad input and failing steps: each gives a specific error and leaves no file, loop device, mount or daemon.</summary>
public sealed class VolumeFaultTests : IDisposable
{
    private readonly TestPool pool = new();

    [IntegrationTheory("mkfs.ext4", "qemu-img")]
    [InlineData(VolumeFormat.Raw, "mkfs.ext4")]
    [InlineData(VolumeFormat.Qcow2, "mkfs.ext4")]
    [InlineData(VolumeFormat.Qcow2, "qemu-img")]
    public void A_failing_creation_step_leaves_nothing_under_any_name(VolumeFormat format, string failingTool)
    {
        var context = pool.Context(new SpyRunner(new ProcessRunner(), c => c.Tool == failingTool));
        var creator = new VolumeCreator(context);
        var plan = creator.Plan(new NewVolumeRequest { Name = "doomed", Size = ByteSize.FromMiB(64), Format = format, FileSystem = FileSystemType.Ext4 });
        FluentActions.Invoking(() => creator.Create(plan)).Should().Throw<ToolFailedException>()
            .Where(e => e.Tool == failingTool && e.Message.Contains("injected failure"));
        Directory.EnumerateFileSystemEntries(pool.PoolPath).Should().BeEmpty();
    }

    [IntegrationTheory("losetup", "mount", "qemu-storage-daemon", "mkfs.ext4")]
    [InlineData(VolumeFormat.Raw, "mount")]
    [InlineData(VolumeFormat.Raw, "losetup")]
    [InlineData(VolumeFormat.Qcow2, "mount")]
    [InlineData(VolumeFormat.Qcow2, "losetup")]
    public void A_failing_mount_step_undoes_the_earlier_ones(VolumeFormat format, string failingTool)
    {
        var volume = Create("m", format, FileSystemType.Ext4);
        var spy = new SpyRunner(new ProcessRunner(), c => c.Tool == failingTool && !c.Arguments.Contains("--detach"));
        var mountPoint = pool.Combine("created-by-mount");
        FluentActions.Invoking(() => new VolumeMounter(pool.Context(spy)).Mount(volume, mountPoint, false))
            .Should().Throw<ToolFailedException>().Where(e => e.Tool == failingTool);

        Directory.Exists(mountPoint).Should().BeFalse("a mount point the mount created is removed again");
        LoopDevices.Read().Should().NotContain(l => l.BackingFile.StartsWith(pool.Root));
        LiveProcesses.CommandLinesMentioning(pool.Root).Should().BeEmpty();
        (Directory.Exists(pool.Runtime.FuseExports) ? Directory.GetFiles(pool.Runtime.FuseExports) : []).Should().BeEmpty();
        new VolumeCatalog(pool.Context()).Get(volume.Path).IsAttached.Should().BeFalse();
    }

    [IntegrationFact("mkfs.ext4")]
    public void Mount_points_must_be_empty_directories()
    {
        var volume = Create("mp", VolumeFormat.Raw, FileSystemType.Ext4);
        var mounter = new VolumeMounter(pool.Context());
        Directory.CreateDirectory(pool.Combine("full"));
        File.WriteAllText(pool.Combine("full", "x"), "x");
        File.WriteAllText(pool.Combine("file"), "x");
        Expect<InvalidStorageArgumentException>(() => mounter.Mount(volume, pool.Combine("full"), false), "MountPointNotEmpty");
        Expect<InvalidStorageArgumentException>(() => mounter.Mount(volume, pool.Combine("file"), false), "MountPointNotDirectory");
        Expect<InvalidStorageArgumentException>(() => mounter.Mount(volume, pool.Combine("no", "such"), false), "MountPointParentMissing");
        LoopDevices.Read().Should().NotContain(l => l.BackingFile.StartsWith(pool.Root));
    }

    [IntegrationFact]
    public void Mounting_needs_root_and_a_filesystem()
    {
        var blank = Create("blank", VolumeFormat.Raw, FileSystemType.None);
        Expect<NotRootException>(() => new VolumeMounter(pool.Context(isRoot: false)).Mount(blank, pool.Combine("m"), false), "RootRequired");
        Expect<StorageOperationException>(() => new VolumeMounter(pool.Context()).Mount(blank, pool.Combine("m"), false), "NoMountableFileSystem");
        Directory.Exists(pool.Combine("m")).Should().BeFalse();
    }

    [IntegrationFact]
    public void A_missing_tool_is_named_with_its_package_and_nothing_is_left()
    {
        var runner = new ProcessRunner(new ToolLocator(["/nonexistent"]));
        var creator = new VolumeCreator(pool.Context(runner));
        var plan = creator.Plan(new NewVolumeRequest { Name = "t", Size = ByteSize.FromMiB(8), Format = VolumeFormat.Qcow2 });
        FluentActions.Invoking(() => creator.Create(plan)).Should().Throw<MissingToolException>().Where(e => e.Package == "qemu-utils");
        Directory.EnumerateFileSystemEntries(pool.PoolPath).Should().BeEmpty();
    }

    [IntegrationFact]
    public void Existing_volumes_are_kept_unless_replacing_is_asked_for()
    {
        var first = Create("dup", VolumeFormat.Raw, FileSystemType.None);
        var creator = new VolumeCreator(pool.Context());
        Expect<ResourceExistsException>(() => creator.Plan(new NewVolumeRequest { Name = "dup", Size = ByteSize.FromMiB(8) }), "VolumeExists");
        Expect<ResourceExistsException>(() => creator.Plan(new NewVolumeRequest { Name = "dup", Size = ByteSize.FromMiB(8), Format = VolumeFormat.Qcow2 }), "VolumeExists");
        var replaced = creator.Create(creator.Plan(new NewVolumeRequest { Name = "dup", Size = ByteSize.FromMiB(16), Replace = true }));
        replaced.Path.Should().Be(first.Path);
        replaced.SizeBytes.Should().Be(16L << 20);
    }

    [IntegrationFact]
    public void Paths_outside_every_pool_are_refused()
    {
        var creator = new VolumeCreator(pool.Context());
        Expect<PathOutsidePoolException>(() => creator.Plan(new NewVolumeRequest { Path = pool.Combine("outside.img"), Size = ByteSize.FromMiB(8) }), "PathOutsidePool");
        Expect<PathOutsidePoolException>(() => creator.Plan(new NewVolumeRequest { Path = Path.Combine(pool.PoolPath, "..", "x.img"), Size = ByteSize.FromMiB(8) }), "PathOutsidePool");
        Expect<InvalidStorageArgumentException>(() => creator.Plan(new NewVolumeRequest { Name = "../x", Size = ByteSize.FromMiB(8) }), "InvalidVolumeName");
    }

    [IntegrationFact]
    public void A_second_operation_on_a_locked_volume_fails_clearly()
    {
        var volume = Create("locked", VolumeFormat.Raw, FileSystemType.None);
        var context = pool.Context();
        using var held = context.LockVolume(volume.Path);
        Expect<VolumeLockedException>(() => new VolumeRemover(context).Remove(volume, wipe: false), "VolumeLocked");
        File.Exists(volume.Path).Should().BeTrue();
    }

    [IntegrationFact]
    public void A_volume_held_open_exclusively_elsewhere_still_lists_and_counts()
    {
        var volume = Create("held", VolumeFormat.Raw, FileSystemType.None);
        using var held = new FileStream(volume.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        new VolumeCatalog(pool.Context()).ByName(["*"]).Should().ContainSingle(v => v.Name == "held");
        pool.Pools.Get([TestPool.Name]).Single().VolumeCount.Should().Be(1);
    }

    [IntegrationFact]
    public void Dismounting_a_volume_that_is_not_in_use_changes_nothing()
    {
        var volume = Create("idle", VolumeFormat.Raw, FileSystemType.None);
        var spy = new SpyRunner(new ProcessRunner());
        new VolumeMounter(pool.Context(spy)).Dismount(volume).IsAttached.Should().BeFalse();
        spy.Commands.Should().BeEmpty();
    }

    private SparseVolume Create(string name, VolumeFormat format, FileSystemType fileSystem)
    {
        var creator = new VolumeCreator(pool.Context());
        return creator.Create(creator.Plan(new NewVolumeRequest { Name = name, Size = ByteSize.FromMiB(64), Format = format, FileSystem = fileSystem }));
    }

    private static void Expect<T>(Action act, string errorId) where T : SparseStorageException =>
        act.Should().Throw<T>().Where(e => e.ErrorId == errorId);

    public void Dispose() => pool.Dispose();
}
