using SparseStorage.Core.Backups;
using SparseStorage.Core.Copying;
using SparseStorage.Core.Host;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// The volume lifecycle as plans: Plan refuses what the run would refuse and changes nothing; Apply re-checks under the
/// lock what the plan assumed, and refuses a volume that changed since (mounted, written, replaced).
/// </summary>
public sealed class LifecyclePlanTests : IDisposable
{
    private readonly TestPool pool = new();
    private readonly StorageContext context;

    public LifecyclePlanTests() => context = pool.Context();

    [IntegrationFact("mkfs.ext4")]
    public void A_removal_plan_is_high_impact_names_the_wipe_and_the_deletion_and_deletes_nothing()
    {
        var volume = pool.CreateVolume(context, "gone", ByteSize.FromMiB(32));
        var before = Files.HashFile(volume.Path);

        var plan = new VolumeRemover(context).Plan(new RemoveVolumeRequest(volume, Wipe: true));

        plan.Impact.Should().Be(PlanImpact.High);
        plan.Steps.Should().Equal($"wipe {ByteSize.Format(volume.AllocatedBytes)} of data in {volume.Path}", $"delete {volume.Path}");
        plan.Describe().Should().StartWith("Wipe and remove volume: wipe ");
        Files.HashFile(volume.Path).Should().Be(before);
    }

    [IntegrationFact("mkfs.ext4")]
    public void The_services_of_new_and_remove_plan_a_file_volume_in_a_directory_pool_as_the_file_operations_do()
    {
        var creation = new VolumeCreationService(context);
        var removal = new VolumeRemovalService(context);
        var request = new NewVolumeRequest { Name = "routed", Pool = TestPool.Name, Size = ByteSize.FromMiB(32), FileSystem = FileSystemType.Ext4 };

        var createPlan = creation.Plan(request);
        var created = creation.Apply(createPlan);
        var removePlan = removal.Plan(new RemoveVolumeRequest(created, Wipe: false));
        removal.Apply(removePlan);

        createPlan.Should().BeOfType<CreateVolumePlan>();
        created.FileSystem.Should().Be(FileSystemType.Ext4);
        removePlan.Should().BeOfType<RemoveVolumePlan>();
        File.Exists(created.Path).Should().BeFalse();
        FluentActions.Invoking(() => removal.Apply(createPlan)).Should().Throw<ArgumentException>("a plan of another operation is refused");
    }

    [IntegrationFact("mkfs.ext4", "losetup", "mount")]
    public void Removal_is_refused_when_the_volume_was_mounted_after_the_plan()
    {
        var volume = pool.CreateVolume(context, "late", ByteSize.FromMiB(32));
        var remover = new VolumeRemover(context);
        var plan = remover.Plan(new RemoveVolumeRequest(volume, Wipe: false));
        var mounted = new VolumeMounter(context).Mount(volume, pool.Combine("late"), readOnly: false);
        try
        {
            FluentActions.Invoking(() => remover.Apply(plan)).Should().Throw<VolumeInUseException>().WithMessage($"*mounted at {mounted.MountPoint}*");
            File.Exists(volume.Path).Should().BeTrue();
        }
        finally
        {
            new VolumeMounter(context).Dismount(mounted);
        }
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("mkfs.ext4")]
    public void Removal_is_refused_when_data_was_written_after_the_plan_that_counted_what_to_wipe()
    {
        var volume = pool.CreateVolume(context, "grown", ByteSize.FromMiB(32), fileSystem: FileSystemType.None);
        var remover = new VolumeRemover(context);
        var plan = remover.Plan(new RemoveVolumeRequest(volume, Wipe: true));
        using (var file = new FileStream(volume.Path, FileMode.Open, FileAccess.Write))
        {
            file.Position = 8 << 20;
            file.Write(new byte[1 << 20].Select(_ => (byte)7).ToArray());
        }

        FluentActions.Invoking(() => remover.Apply(plan)).Should().Throw<StorageOperationException>()
            .Where(e => e.ErrorId == "ChangedSincePlanned").WithMessage("*wipe 1 MiB of data*");
        File.Exists(volume.Path).Should().BeTrue();
    }

    [IntegrationFact("mkfs.ext4", "losetup", "mount")]
    public void A_mount_plan_creates_nothing_and_Apply_is_refused_when_the_volume_was_mounted_elsewhere_meanwhile()
    {
        var volume = pool.CreateVolume(context, "twice", ByteSize.FromMiB(32));
        var mounter = new VolumeMounter(context);
        var mountPoint = pool.Combine("planned");

        var plan = mounter.Plan(new MountVolumeRequest(volume, mountPoint));

        Directory.Exists(mountPoint).Should().BeFalse("planning a mount creates no mount point");
        plan.Steps.Should().HaveCount(3).And.HaveElementAt(0, $"create directory {mountPoint}");
        plan.Steps[2].Should().Be($"mount -t ext4 <loop device> {mountPoint}");
        var elsewhere = mounter.Mount(volume, pool.Combine("elsewhere"), readOnly: false);
        try
        {
            FluentActions.Invoking(() => mounter.Apply(plan)).Should().Throw<VolumeInUseException>();
            Directory.Exists(mountPoint).Should().BeFalse();
        }
        finally
        {
            mounter.Dismount(elsewhere);
        }
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("mkfs.ext4", "losetup", "mount")]
    public void A_dismount_plan_is_refused_when_the_volume_was_dismounted_and_mounted_again_elsewhere()
    {
        var volume = pool.CreateVolume(context, "moved", ByteSize.FromMiB(32));
        var mounter = new VolumeMounter(context);
        var first = mounter.Mount(volume, pool.Combine("first"), readOnly: false);
        var plan = mounter.Plan(new DismountVolumeRequest(first));
        mounter.Dismount(first);
        var second = mounter.Mount(volume, pool.Combine("second"), readOnly: false);
        try
        {
            FluentActions.Invoking(() => mounter.Apply(plan)).Should().Throw<StorageOperationException>().Where(e => e.ErrorId == "ChangedSincePlanned");
            new VolumeCatalog(context).Get(volume.Path).MountPoint.Should().Be(second.MountPoint);
        }
        finally
        {
            mounter.Dismount(second);
        }
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("mkfs.ext4")]
    public void A_creation_is_refused_when_a_file_of_its_name_appeared_after_the_plan()
    {
        var creator = new VolumeCreator(context);
        var plan = creator.Plan(new NewVolumeRequest { Name = "race", Size = ByteSize.FromMiB(16) });
        File.WriteAllText(plan.TargetPath, "someone else's");

        ErrorIds.Of(() => creator.Apply(plan)).Should().Be("VolumeExists");
        File.ReadAllText(plan.TargetPath).Should().Be("someone else's");
    }

    [IntegrationFact("mkfs.ext4", "losetup")]
    public void A_source_whose_writes_cannot_be_paused_is_refused_by_the_copy_plan_unless_allowed_and_then_warned_about()
    {
        var volume = pool.CreateVolume(context, "busy", ByteSize.FromMiB(32));
        var copier = new VolumeCopier(context);
        var plan = copier.Plan(volume, new CopyVolumeRequest { Destination = "copy" });
        var device = new ProcessRunner().RunChecked(new ToolCommand("losetup", "--find", "--show", volume.Path)).StandardOutput.Trim();
        try
        {
            FluentActions.Invoking(() => copier.Apply(plan)).Should().Throw<VolumeInUseException>().WithMessage("*-AllowInUseSource*");
            FluentActions.Invoking(() => copier.Plan(volume, new CopyVolumeRequest { Destination = "copy" }))
                .Should().Throw<VolumeInUseException>().WithMessage($"*{device}*-AllowInUseSource*");
            var allowed = copier.Plan(volume, new CopyVolumeRequest { Destination = "copy", AllowInUseSource = true });
            allowed.Warnings.Should().ContainSingle().Which.Should().Contain("may need a check");
            allowed.Consistency.Should().Be(WriteConsistency.Unfrozen);
            File.Exists(Path.Combine(pool.PoolPath, "copy.img")).Should().BeFalse();
        }
        finally
        {
            new ProcessRunner().Run(new ToolCommand("losetup", "--detach", device));
        }
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("mkfs.ext4", "zstd")]
    public void An_existing_archive_is_replaced_only_with_Replace()
    {
        var volume = pool.CreateVolume(context, "arch", ByteSize.FromMiB(16));
        var archives = new ArchiveService(context);
        var archive = pool.Combine("arch.img" + ArchiveService.Extension);
        File.WriteAllText(archive, "old");

        ErrorIds.Of(() => archives.Plan(new CompressVolumeRequest(volume, archive))).Should().Be("ArchiveExists");
        var plan = archives.Plan(new CompressVolumeRequest(volume, archive) { Replace = true });
        File.ReadAllText(archive).Should().Be("old", "planning writes nothing");
        archives.Apply(plan).StoredBytes.Should().BeGreaterThan(3);
        plan.Steps[^1].Should().Be($"flush {pool.Root}/.sparsestorage-partial-<process, start time, random>-arch.img.tar.zst and rename it to {archive}",
            "a work file's name is chosen by the run");
    }

    [Fact]
    public void A_pool_registration_plan_writes_no_configuration_and_Apply_refuses_a_name_taken_meanwhile()
    {
        using var scratch = new TempDirectory("pool-plan");
        var configuration = scratch.Combine("etc", "pools.json");
        var registrar = new PoolRegistrar(new StorageContext(new PoolService(new PoolConfiguration(configuration)), new ProcessRunner(), new RuntimePaths(scratch.Combine("run")), isRoot: true));
        Directory.CreateDirectory(scratch.Combine("a"));
        Directory.CreateDirectory(scratch.Combine("b"));

        var plan = registrar.Plan(new RegisterPoolRequest("tenants", scratch.Combine("a")));

        plan.Steps.Should().Equal($"add pool 'tenants' at {scratch.Combine("a")} to {configuration}");
        Directory.Exists(scratch.Combine("etc")).Should().BeFalse("planning writes nothing, not even the configuration's folder");
        new PoolService(new PoolConfiguration(configuration)).Register("TENANTS", scratch.Combine("b"));
        ErrorIds.Of(() => registrar.Apply(plan)).Should().Be("PoolExists");
        var unregister = registrar.Plan(new UnregisterPoolRequest("tenants"));
        unregister.Pool.Path.Should().Be(scratch.Combine("b"));
        registrar.Apply(unregister).Name.Should().Be("TENANTS");
        new PoolService(new PoolConfiguration(configuration)).Definitions().Should().BeEmpty();
    }

    public void Dispose() => pool.Dispose();
}
