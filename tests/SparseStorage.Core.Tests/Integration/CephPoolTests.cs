using SparseStorage.Core.Ceph;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Ceph pools against a real cluster (<see cref="CephLab"/>, brought up once for this class and always taken down).
/// Each test registers its own pool on a fresh RBD namespace as the limited client 'sparse' with its keyring file.
/// </summary>
[Collection(CephLabCollection.Name)]
public sealed class CephPoolTests(CephLab lab) : IClassFixture<CephLab>, IDisposable
{
    private readonly TempDirectory root = new("sstest-cephpool");
    private const string PoolName = "shared";

    private StorageContext Register(CephPoolSettings settings, IProcessRunner? runner = null, StepJournal? journal = null)
    {
        var context = CephLab.Context(root, runner, journal);
        var registration = new CephPoolRegistration(context);
        registration.Apply(registration.Plan(new RegisterCephPoolRequest(PoolName, settings)));
        return context;
    }

    private static SparseVolume Create(StorageContext context, string name, ByteSize size, FileSystemType fileSystem = FileSystemType.None, string? label = null)
    {
        var creation = new CephVolumeCreation(context);
        return creation.Apply(creation.Plan(new NewVolumeRequest { Name = name, Pool = PoolName, Size = size, FileSystem = fileSystem, Label = label }));
    }

    [CephFact]
    public void A_registered_pool_reports_the_sum_of_image_sizes_as_provisioned_and_used_space_that_grows_with_writes()
    {
        var settings = lab.FreshNamespace();
        var context = Register(settings);
        Create(context, "a", ByteSize.FromMiB(1024));
        Create(context, "b", ByteSize.FromMiB(3072));

        var before = context.Pools.Describe(context.Pools.Find(PoolName));
        lab.Write(settings, "a", 16L << 20);
        var after = context.Pools.Describe(context.Pools.Find(PoolName));

        before.Kind.Should().Be(PoolKind.CephRbd);
        before.Path.Should().Be($"rbd:rbd/{settings.Namespace}");
        before.VolumeCount.Should().Be(2);
        before.ProvisionedBytes.Should().Be(4L << 30);
        before.AllocatedBytes.Should().Be(0);
        before.CapacityBytes.Should().BeGreaterThan(0).And.BeGreaterThanOrEqualTo(before.FreeBytes);
        before.OvercommitRatio.Should().BeApproximately((double)before.ProvisionedBytes / before.CapacityBytes, 0.001);
        after.AllocatedBytes.Should().BeGreaterThanOrEqualTo(16L << 20);
        after.ProvisionedBytes.Should().Be(before.ProvisionedBytes);
    }

    [CephFact]
    public void The_key_never_appears_in_an_argument_or_a_step_only_the_keyring_path_does()
    {
        var settings = lab.FreshNamespace();
        var spy = new SpyRunner(new ProcessRunner());
        var steps = new List<string>();
        var context = Register(settings, spy, new StepJournal(steps.Add));
        Create(context, "keyed", ByteSize.FromMiB(64), FileSystemType.Ext4);
        var key = File.ReadLines(lab.ClientKeyring).Select(l => l.Trim()).First(l => l.StartsWith("key", StringComparison.Ordinal)).Split('=', 2)[1].Trim();

        spy.Commands.Should().Contain(c => c.Tool == "qemu-storage-daemon", "mkfs went through qemu's rbd driver");
        spy.Commands.SelectMany(c => c.Arguments).Should().NotContain(a => a.Contains(key, StringComparison.Ordinal));
        steps.Should().NotContain(s => s.Contains(key, StringComparison.Ordinal));
        spy.Commands.Where(c => c.Tool is "rbd" or "ceph").Should().OnlyContain(c => c.Arguments.Contains(lab.ClientKeyring));
    }

    [CephFact]
    public void Registration_and_creation_with_a_filesystem_apply_exactly_the_steps_they_planned()
    {
        var steps = new List<string>();
        var context = CephLab.Context(root, journal: new StepJournal(steps.Add));
        var registration = new CephPoolRegistration(context);
        var registering = registration.Plan(new RegisterCephPoolRequest(PoolName, lab.FreshNamespace()));
        context.Pools.Definitions().Should().BeEmpty("a plan changes nothing");

        registration.Apply(registering);
        steps.Should().Equal(registering.Steps);
        steps.Clear();
        var creation = new CephVolumeCreation(context);
        var creating = creation.Plan(new NewVolumeRequest { Name = "planned", Pool = PoolName, Size = ByteSize.FromMiB(300), FileSystem = FileSystemType.Xfs });
        new VolumeCatalog(context).ByName(["*"], PoolName).Should().BeEmpty("a plan changes nothing");
        var volume = creation.Apply(creating);

        steps.Should().Equal(creating.Steps);
        creating.Steps.Select(s => s.Split(' ')[0]).Should().Equal("rbd", "qemu-storage-daemon", "mkfs.xfs", "stop");
        volume.FileSystem.Should().Be(FileSystemType.Xfs);
    }

    [CephFact]
    public void A_new_image_is_thin_even_when_it_is_far_larger_than_the_cluster()
    {
        var context = Register(lab.FreshNamespace());

        var volume = Create(context, "huge", ByteSize.FromMiB(2L << 20));

        volume.SizeBytes.Should().Be(2L << 40);
        volume.AllocatedBytes.Should().Be(0);
        volume.FileSystem.Should().Be(FileSystemType.None);
        volume.Path.Should().EndWith("/huge");
    }

    [CephFact]
    public void A_volume_made_with_ext4_lists_as_ext4_with_its_label()
    {
        var context = Register(lab.FreshNamespace());
        Create(context, "web01", ByteSize.FromMiB(512), FileSystemType.Ext4, "web");

        var listed = new VolumeCatalog(context).ByName(["*"], PoolName).Single();

        listed.Name.Should().Be("web01");
        listed.FileSystem.Should().Be(FileSystemType.Ext4);
        listed.Label.Should().Be("web");
        listed.FileSystemSizeBytes.Should().Be(512L << 20);
        listed.AllocatedBytes.Should().BeGreaterThan(0, "mkfs wrote metadata");
        context.Runtime.FuseExports.Should().Match(d => !Directory.Exists(d) || Directory.GetFiles(d).Length == 0, "the export used for mkfs is gone");
        LiveProcesses.CommandLinesMentioning(root.Path).Should().BeEmpty("no qemu-storage-daemon outlives the creation");
    }

    [CephFact]
    public void Listing_many_images_starts_the_same_two_processes_whatever_their_number()
    {
        var settings = lab.FreshNamespace();
        const int count = 40;
        for (var i = 0; i < count; i++)
            lab.Rbd("create", "--size", "64M", "--pool", settings.Pool, "--namespace", settings.Namespace!, "--image", $"vm{i:000}");
        lab.HoldMountLock(settings, "vm007", "node7:/run/b");
        lab.Rados(settings, "lock", "get", RbdMountLock.ObjectOf("vm008"), RbdMountLock.LockName, "--lock-cookie", "by-hand").EnsureSuccess();
        var spy = new SpyRunner(new ProcessRunner());
        var context = Register(settings, spy);
        spy.Commands.Clear();

        var volumes = new VolumeCatalog(context).ByName(["*"], PoolName).ToList();

        volumes.Should().HaveCount(count);
        volumes.Should().OnlyContain(v => v.SizeBytes == 64L << 20 && v.FileSystem == FileSystemType.None);
        volumes.Single(v => v.Name == "vm007").MountedOn.Should().Be("node7:/run/b", "the host holding the mount lock, read from its cookie");
        volumes.Single(v => v.Name == "vm008").MountedOn.Should().MatchRegex(@"^client\.\d+ at \S+$", "a lock not taken by the module is named by its client");
        volumes.Where(v => v.Name is not ("vm007" or "vm008")).Should().OnlyContain(v => v.MountedOn == null);
        spy.Commands.Select(c => c.Arguments.SkipWhile(a => a != "--keyring").Skip(2).First()).Should().BeEquivalentTo(["ls", "du"], "rbd ls and rbd du, run at the same time");
    }

    [CephFact]
    public void The_services_of_new_and_remove_route_a_request_for_a_ceph_pool_to_the_rbd_operations()
    {
        var settings = lab.FreshNamespace();
        var context = Register(settings);
        var creation = new VolumeCreationService(context);
        var removal = new VolumeRemovalService(context);

        var createPlan = creation.Plan(new NewVolumeRequest { Name = "routed", Pool = PoolName, Size = ByteSize.FromMiB(64) });
        var created = creation.Apply(createPlan);
        var removePlan = removal.Plan(new RemoveVolumeRequest(created, Wipe: false));
        removal.Apply(removePlan);

        createPlan.Should().BeOfType<CreateCephVolumePlan>().Which.Steps.Should().ContainSingle().Which.Should().StartWith("rbd ").And.Contain(" create ");
        created.Path.Should().Be(settings.ImagePath("routed"));
        removePlan.Should().BeOfType<RemoveCephVolumePlan>();
        lab.Rbd("ls", "--pool", settings.Pool, "--namespace", settings.Namespace!).Should().NotContain("routed");
    }

    [CephFact]
    public void Remove_takes_the_mount_lock_object_with_the_image_and_is_refused_while_a_host_holds_the_lock()
    {
        var settings = lab.FreshNamespace();
        var steps = new List<string>();
        var context = Register(settings, journal: new StepJournal(steps.Add));
        var volume = Create(context, "locked", ByteSize.FromMiB(64));
        var plain = Create(context, "plain", ByteSize.FromMiB(64));
        lab.HoldMountLock(settings, "locked", "dead-host:/run/x");
        var removal = new CephVolumeRemoval(context);

        var refused = () => removal.Plan(new RemoveCephVolumeRequest(volume, Wipe: false));
        var refusal = refused.Should().Throw<VolumeInUseException>().Which.Message;
        lab.BreakMountLock(settings, "locked");
        var plan = removal.Plan(new RemoveCephVolumeRequest(volume, Wipe: false));
        steps.Clear();
        removal.Apply(plan);
        var plainPlan = removal.Plan(new RemoveCephVolumeRequest(plain, Wipe: false));

        refusal.Should().Contain("dead-host:/run/x").And.Contain("-BreakLockOf");
        plan.Steps.Should().HaveCount(2);
        plan.Steps[0].Should().StartWith("rados ").And.EndWith(" rm sparsestorage_mount.locked");
        plan.Steps[1].Should().StartWith("rbd ").And.Contain(" rm ");
        steps.Should().Equal(plan.Steps);
        lab.Rados(settings, "stat", RbdMountLock.ObjectOf("locked")).ExitCode.Should().NotBe(0, "the lock object went with the image");
        lab.Rbd("ls", "--pool", settings.Pool, "--namespace", settings.Namespace!).Should().NotContain("locked");
        plainPlan.Steps.Should().ContainSingle("a volume never mounted has no lock object to remove").Which.Should().StartWith("rbd ");
    }

    [CephFact]
    public void Remove_with_wipe_writes_zeros_over_the_data_before_it_removes_the_image()
    {
        var settings = lab.FreshNamespace();
        var steps = new List<string>();
        var zeroedBeforeRemoval = (bool?)null;
        var context = Register(settings);
        var volume = Create(context, "secret", ByteSize.FromMiB(256));
        lab.Write(settings, "secret", 8L << 20);
        var export = new RbdExport(context, settings, "secret").ExportPath;
        var journal = new StepJournal(step =>
        {
            steps.Add(step);
            // The export is still there as its stop starts: what the image holds after the wipe, before rbd rm.
            if (step.StartsWith("stop the qemu-storage-daemon", StringComparison.Ordinal))
                zeroedBeforeRemoval = !ReadStart(export, 8 << 20).AsSpan().ContainsAnyExcept((byte)0);
        });
        var removal = new CephVolumeRemoval(CephLab.Context(root, journal: journal));

        var plan = removal.Plan(new RemoveCephVolumeRequest(volume, Wipe: true));
        removal.Apply(plan);

        plan.Impact.Should().Be(PlanImpact.High);
        steps.Should().Equal(plan.Steps);
        plan.Steps.Should().Contain(s => s.StartsWith("write zeros over every allocated extent", StringComparison.Ordinal));
        plan.Steps[^1].Should().Contain(" rm ");
        zeroedBeforeRemoval.Should().BeTrue();
        lab.Rbd("ls", "--pool", settings.Pool, "--namespace", settings.Namespace!).Should().NotContain("secret");
        LiveProcesses.CommandLinesMentioning(root.Path).Should().BeEmpty();
    }

    [CephFact]
    public void Registering_a_namespace_that_does_not_exist_is_refused_by_the_plan_and_nothing_is_registered()
    {
        var settings = new CephPoolSettings(lab.ConfigPath, CephLab.Pool, CephLab.ClientUser, lab.ClientKeyring, "nosuchnamespace");
        var context = CephLab.Context(root);

        var refusal = () => new CephPoolRegistration(context).Plan(new RegisterCephPoolRequest(PoolName, settings));

        refusal.Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("CephPoolUnreachable");
        context.Pools.Definitions().Should().BeEmpty();
    }

    private static byte[] ReadStart(string path, int length)
    {
        using var file = File.OpenRead(path);
        var buffer = new byte[length];
        file.ReadExactly(buffer);
        return buffer;
    }

    public void Dispose() => root.Dispose();
}
