using SparseStorage.Core.Ceph;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Mounting Ceph volumes against a real cluster (<see cref="CephLab"/>): through qemu's rbd driver over FUSE and a loop
/// device, one writer across hosts. A "host" is a context with its own runtime directory and pool configuration; its
/// qemu-storage-daemon is its own process, a client of the cluster like any other host's.
/// </summary>
[Collection(CephLabCollection.Name)]
public sealed class CephMountTests(CephLab lab) : IClassFixture<CephLab>, IDisposable
{
    private const string PoolName = "shared";
    private readonly TempDirectory hostA = new("sstest-cephmount-a");
    private readonly TempDirectory hostB = new("sstest-cephmount-b");
    private readonly List<(StorageContext Context, string Path)> mounted = [];
    private readonly LoopSnapshot loopsAtStart = new();

    private static StorageContext Host(TempDirectory root, CephPoolSettings settings, StepJournal? journal = null)
    {
        var context = CephLab.Context(root, journal: journal);
        var registration = new CephPoolRegistration(context);
        registration.Apply(registration.Plan(new RegisterCephPoolRequest(PoolName, settings)));
        return context;
    }

    private static SparseVolume Create(StorageContext context, string name)
    {
        var creation = new CephVolumeCreation(context);
        return creation.Apply(creation.Plan(new NewVolumeRequest { Name = name, Pool = PoolName, Size = ByteSize.FromMiB(128), FileSystem = FileSystemType.Ext4 }));
    }

    private SparseVolume Mount(StorageContext context, SparseVolume volume, string mountPoint, string? breakLockOf = null)
    {
        var mounting = new CephVolumeMounting(context);
        var plan = mounting.Plan(new MountCephVolumeRequest(volume, mountPoint, BreakLockOf: breakLockOf));
        mounted.Add((context, volume.Path));
        return mounting.Apply(plan);
    }

    private static SparseVolume Dismount(StorageContext context, SparseVolume volume)
    {
        var mounting = new CephVolumeMounting(context);
        return mounting.Apply(mounting.Plan(new DismountVolumeRequest(volume)));
    }

    /// <summary>The mount lock as the cluster reports it to client.admin (the test's own hand, not the code under test).</summary>
    private string MountLockInfo(SparseVolume volume, string image) =>
        new ProcessRunner().RunChecked(new ToolCommand("rados", ["--conf", lab.ConfigPath, "--id", "admin", "--keyring", lab.AdminKeyring, "--pool", CephLab.Pool,
            "--namespace", volume.Path.Split('/')[1], "lock", "info", RbdMountLock.ObjectOf(image), "mount", "--format", "json"])).StandardOutput;

    private static void WriteSynced(string path, string text)
    {
        File.WriteAllText(path, text);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        stream.Flush(flushToDisk: true);
    }

    [CephFact]
    public void A_mounted_volume_shows_where_it_is_mounted_and_keeps_its_data_across_dismount_and_remount()
    {
        var context = Host(hostA, lab.FreshNamespace());
        var volume = Create(context, "data");
        var mountPoint = hostA.Combine("mnt");

        var mountedVolume = Mount(context, volume, mountPoint);
        File.WriteAllText(Path.Combine(mountPoint, "note.txt"), "kept on the cluster");
        var listed = new VolumeCatalog(context).Single("data", PoolName);
        var dismounted = Dismount(context, volume);
        var remounted = Mount(context, volume, mountPoint);

        mountedVolume.IsMounted.Should().BeTrue();
        listed.MountPoint.Should().Be(mountPoint);
        listed.LoopDevice.Should().StartWith("/dev/loop");
        listed.IsAttached.Should().BeTrue();
        listed.MountedOn.Should().Be(RbdMountLock.HolderOf(context.Runtime));
        dismounted.IsMounted.Should().BeFalse();
        dismounted.MountedOn.Should().BeNull("the dismount released the lock");
        dismounted.IsAttached.Should().BeFalse();
        remounted.MountPoint.Should().Be(mountPoint);
        File.ReadAllText(Path.Combine(mountPoint, "note.txt")).Should().Be("kept on the cluster");
        MountLockInfo(volume, "data").Should().Contain(RbdMountLock.DescriptionFor(RbdMountLock.HolderOf(context.Runtime)), "a read-write mount holds the image's mount lock");
        Dismount(context, volume);
        MountLockInfo(volume, "data").Should().NotContain(RbdMountLock.DescriptionPrefix, "the dismount released it");
        LiveProcesses.CommandLinesMentioning(hostA.Path).Should().BeEmpty("no qemu-storage-daemon outlives the dismount");
    }

    [CephFact]
    public void Mount_and_dismount_apply_exactly_the_steps_they_planned()
    {
        var applied = new List<string>();
        var context = Host(hostA, lab.FreshNamespace(), new StepJournal(applied.Add));
        var volume = Create(context, "planned");
        var mounting = new CephVolumeMounting(context);

        var mountPlan = mounting.Plan(new MountCephVolumeRequest(volume, hostA.Combine("mnt")));
        Directory.Exists(hostA.Combine("mnt")).Should().BeFalse("a plan changes nothing");
        applied.Clear();
        mounted.Add((context, volume.Path));
        mounting.Apply(mountPlan);
        var mountSteps = applied.ToList();
        var dismountPlan = mounting.Plan(new DismountVolumeRequest(volume));
        applied.Clear();
        mounting.Apply(dismountPlan);

        mountSteps.Should().HaveCount(mountPlan.Steps.Count);
        mountSteps.Zip(mountPlan.Steps).Should().OnlyContain(pair => Matches(pair.Second, pair.First), "each applied step is the planned one, <...> standing for a value only the run knows");
        mountPlan.Steps.Should().Contain(s => s.StartsWith("rados ", StringComparison.Ordinal) && s.Contains(" lock get ", StringComparison.Ordinal))
            .And.Contain(s => s.StartsWith("qemu-storage-daemon ", StringComparison.Ordinal) && s.Contains("driver=rbd", StringComparison.Ordinal))
            .And.Contain(s => s.StartsWith("losetup ", StringComparison.Ordinal))
            .And.Contain(s => s.StartsWith("mount ", StringComparison.Ordinal));
        dismountPlan.Steps.Should().Equal(applied);
        dismountPlan.Steps.Should().HaveCount(4, "umount, losetup --detach, stop the daemon, rados lock break");
    }

    [CephFact]
    public void A_second_host_is_refused_with_the_holder_named_and_takes_over_only_after_breaking_the_dead_hosts_lock()
    {
        var settings = lab.FreshNamespace();
        var first = Host(hostA, settings);
        var second = Host(hostB, settings);
        var volume = Create(first, "shared1");
        Mount(first, volume, hostA.Combine("mnt"));
        WriteSynced(Path.Combine(hostA.Combine("mnt"), "before.txt"), "written on the first host");
        var holder = RbdMountLock.HolderOf(first.Runtime);
        var secondMounting = new CephVolumeMounting(second);

        var refused = () => secondMounting.Plan(new MountCephVolumeRequest(volume, hostB.Combine("mnt")));
        refused.Should().Throw<VolumeInUseException>().Which.Message.Should().Contain(holder).And.Contain("-BreakLockOf");
        var daemon = first.ReadAttachments().Of(volume.Path).FuseExport!.ProcessId;
        Libc.kill(daemon, 9);
        var wrongHolder = () => secondMounting.Plan(new MountCephVolumeRequest(volume, hostB.Combine("mnt"), BreakLockOf: "no-such-host"));
        wrongHolder.Should().Throw<StorageObjectNotFoundException>().Which.Message.Should().Contain(holder);
        var listedBeforeTakeover = new VolumeCatalog(second).Get(volume.Path);
        var takeover = secondMounting.Plan(new MountCephVolumeRequest(volume, hostB.Combine("mnt"), BreakLockOf: holder));
        mounted.Add((second, volume.Path));
        secondMounting.Apply(takeover);
        var listedAfterTakeover = new VolumeCatalog(first).Get(volume.Path);

        listedBeforeTakeover.MountedOn.Should().Be(holder, "the second host sees which host holds the volume");
        listedBeforeTakeover.IsMounted.Should().BeFalse("not on the host that lists it");
        listedAfterTakeover.MountedOn.Should().Be(RbdMountLock.HolderOf(second.Runtime));
        takeover.Steps.Should().Contain(s => s.Contains("osd blocklist add", StringComparison.Ordinal), "the dead host's daemon is fenced");
        takeover.Steps.Should().Contain(s => s.Contains(" lock break ", StringComparison.Ordinal));
        File.ReadAllText(Path.Combine(hostB.Combine("mnt"), "before.txt")).Should().Be("written on the first host");
        WriteSynced(Path.Combine(hostB.Combine("mnt"), "after.txt"), "written on the second host");
        new VolumeCatalog(second).Get(volume.Path).IsMounted.Should().BeTrue();
        var deadMount = Dismount(first, volume);
        deadMount.IsAttached.Should().BeFalse("the first host takes its dead mount down without touching the lock it lost");
        var firstAgain = () => new CephVolumeMounting(first).Plan(new MountCephVolumeRequest(volume, hostA.Combine("mnt2")));
        firstAgain.Should().Throw<VolumeInUseException>().Which.Message.Should().Contain(RbdMountLock.HolderOf(second.Runtime));
    }

    [CephFact]
    public void A_host_whose_daemon_exited_dismounts_its_dead_mount_detaching_the_loop_and_releasing_its_lock()
    {
        var (first, _, volume, loop, daemon, plan, applied) = DismountAfterDaemonExited("alone", takeOver: false);

        plan.Steps.Should().HaveCount(4).And.StartWith([$"umount {hostA.Combine("mnt")}", $"losetup --detach {loop}",
            $"remove the record of the FUSE export {FuseExportRecord.ExportPathFor(first.Runtime.FuseExports, volume.Path)}, whose qemu-storage-daemon (pid {daemon}) is gone"]);
        plan.Steps[3].Should().StartWith("rados ").And.Contain(" lock break ", "the dead mount's lock is this host's, and goes with it");
        applied.Should().Equal(plan.Steps);
        MountLockInfo(volume, "alone").Should().NotContain(RbdMountLock.DescriptionPrefix);
        new VolumeCatalog(first).Get(volume.Path).MountedOn.Should().BeNull();
        AssertNoLoopOfEitherHost();
    }

    [CephFact]
    public void After_a_take_over_the_host_whose_daemon_exited_dismounts_its_dead_mount_and_leaves_no_loop_device()
    {
        var (first, second, volume, loop, daemon, plan, applied) = DismountAfterDaemonExited("taken", takeOver: true);

        plan.Steps.Should().Equal($"umount {hostA.Combine("mnt")}", $"losetup --detach {loop}",
            $"remove the record of the FUSE export {FuseExportRecord.ExportPathFor(first.Runtime.FuseExports, volume.Path)}, whose qemu-storage-daemon (pid {daemon}) is gone");
        plan.Steps.Should().NotContain(s => s.Contains(" lock ", StringComparison.Ordinal), "the lock is the second host's now");
        applied.Should().Equal(plan.Steps);
        File.ReadAllText(Path.Combine(hostB.Combine("mnt"), "before.txt")).Should().Be("written before the daemon exited");
        new VolumeCatalog(first).Get(volume.Path).MountedOn.Should().Be(RbdMountLock.HolderOf(second!.Runtime));
        Dismount(second, volume).IsAttached.Should().BeFalse();
        AssertNoLoopOfEitherHost();
    }

    /// <summary>
    /// Mounts on the first host, writes, and stops its qemu-storage-daemon with SIGTERM, on which qemu lifts its FUSE
    /// mount lazily so that the loop's backing file reads "/"; with <paramref name="takeOver"/> the second host then
    /// takes the volume over (-BreakLockOf). Then the first host plans and applies its dismount.
    /// </summary>
    private (StorageContext First, StorageContext? Second, SparseVolume Volume, string Loop, int Daemon, DismountCephVolumePlan Plan, List<string> Applied) DismountAfterDaemonExited(
        string name, bool takeOver)
    {
        var applied = new List<string>();
        var settings = lab.FreshNamespace();
        var first = Host(hostA, settings, new StepJournal(applied.Add));
        var volume = Create(first, name);
        var loop = Mount(first, volume, hostA.Combine("mnt")).LoopDevice!;
        WriteSynced(Path.Combine(hostA.Combine("mnt"), "before.txt"), "written before the daemon exited");
        var daemon = first.ReadAttachments().Of(volume.Path).FuseExport!.ProcessId;
        Libc.kill(daemon, 15);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (Directory.Exists($"/proc/{daemon}") && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        LoopDevices.Find(loop)!.IsBackingDetached.Should().BeTrue("qemu lifted its FUSE mount as it exited");
        var second = takeOver ? Host(hostB, settings) : null;
        if (second is not null)
            Mount(second, volume, hostB.Combine("mnt"), breakLockOf: RbdMountLock.HolderOf(first.Runtime));
        var broken = new VolumeCatalog(first).Get(volume.Path);
        broken.LoopDevice.Should().Be(loop, "the export's record names the loop");
        broken.IsMounted.Should().BeTrue();
        broken.IsBroken.Should().BeTrue();
        var mounting = new CephVolumeMounting(first);

        var plan = mounting.Plan(new DismountVolumeRequest(broken));
        LoopDevices.Find(loop).Should().NotBeNull("a plan changes nothing");
        applied.Clear();
        mounting.Apply(plan).IsAttached.Should().BeFalse();
        return (first, second, volume, loop, daemon, plan, applied);
    }

    /// <summary>No loop device of either host is left: none under their directories, none attached since the test began ("/" ones included).</summary>
    private void AssertNoLoopOfEitherHost()
    {
        LoopDevices.Read().Should().NotContain(l => l.BackingFile.StartsWith(hostA.Path, StringComparison.Ordinal) || l.BackingFile.StartsWith(hostB.Path, StringComparison.Ordinal));
        loopsAtStart.LoopsSince().Should().BeEmpty("no loop device outlives the dismounts, \"/\" ones included");
        MountTable.Read().Should().NotContain(m => m.MountPoint.StartsWith(hostA.Path, StringComparison.Ordinal) || m.MountPoint.StartsWith(hostB.Path, StringComparison.Ordinal));
    }

    private static bool Matches(string planned, string applied) =>
        System.Text.RegularExpressions.Regex.IsMatch(applied,
            "^" + string.Join(".+", planned.Split(['<', '>']).Where((_, i) => i % 2 == 0).Select(System.Text.RegularExpressions.Regex.Escape)) + "$");

    public void Dispose()
    {
        foreach (var (context, path) in Enumerable.Reverse(mounted))
            CephLab.TakeDownMount(context, path);
        hostA.Dispose();
        hostB.Dispose();
        loopsAtStart.DeadLoopsSince().Should().BeEmpty("no loop device may outlive its dead FUSE export");
    }
}
