using SparseStorage.Core.Aoe;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

/// <summary>The supervisor's LVM plan, built against LVM reports answered through the runner seam.</summary>
public sealed class AtaoeGroupPlanTests : IDisposable
{
    private readonly TestPool pool = new();

    [Fact]
    public void A_host_without_the_aoe_driver_or_device_mapper_gets_its_plan_with_a_warning_and_the_run_refuses_before_any_step()
    {
        var journal = new List<string>();
        var runner = Lvm();
        var neither = new AtaoeGroupService(JournaledContext(runner, journal), aoeDriver: false, deviceMapper: false);

        var plan = neither.Plan(Request(Target(7, 0)));

        plan.Steps.Should().Equal("aoe-discover", "pvcreate /dev/etherd/e7.0", "vgcreate cluster /dev/etherd/e7.0");
        plan.MissingCapabilities.Should().HaveCount(2);
        plan.Warnings.Should().ContainSingle().Which.Should().Contain("the aoe driver").And.Contain("device-mapper").And.Contain("will refuse");
        runner.Commands.Select(c => c.Tool).Should().Equal(["pvs", "vgs"], "planning only reads LVM's reports");
        var refusal = FluentActions.Invoking(() => neither.Apply(plan)).Should().Throw<HostNotCapableException>().Which;
        refusal.ErrorId.Should().Be("AoeDriverMissing");
        refusal.Message.Should().Contain("the aoe driver").And.Contain("device-mapper");
        journal.Should().BeEmpty();
        runner.Commands.Select(c => c.Tool).Should().Equal(["pvs", "vgs"], "the refusal comes before any command");

        var noMapper = new AtaoeGroupService(pool.Context(runner), aoeDriver: true, deviceMapper: false);
        var mapperRefusal = FluentActions.Invoking(() => noMapper.Apply(noMapper.Plan(Request(Target(7, 0))))).Should().Throw<HostNotCapableException>().Which;
        mapperRefusal.ErrorId.Should().Be("DeviceMapperMissing");
        mapperRefusal.Message.Should().Contain("device-mapper").And.NotContain("aoe driver");
    }

    [Fact]
    public void Fresh_targets_become_a_new_group_with_a_logical_volume_and_a_filesystem()
    {
        var plan = Service(Lvm()).Plan(Request(Target(7, 0), Target(7, 1)) with { LogicalVolume = "data" });

        plan.CreatesGroup.Should().BeTrue();
        plan.Commands.Select(c => c.ToString()).Should().Equal(
            "aoe-discover",
            "pvcreate /dev/etherd/e7.0",
            "pvcreate /dev/etherd/e7.1",
            "vgcreate cluster /dev/etherd/e7.0 /dev/etherd/e7.1",
            "lvcreate --yes --name data --extents 100%FREE cluster",
            "mkfs.ext4 -F -q /dev/cluster/data");
    }

    [Theory]
    [InlineData("ext4", "", "resize2fs /dev/cluster/data")]
    [InlineData("xfs", "/srv/data", "xfs_growfs /srv/data")]
    [InlineData("btrfs", "/srv/data", "btrfs filesystem resize max /srv/data")]
    public void A_new_node_extends_the_group_then_the_logical_volume_then_its_filesystem_online(string fileSystem, string mountPoint, string grow)
    {
        var runner = Lvm(pvs: "/dev/etherd/e7.0|cluster\n/dev/etherd/e7.1|cluster", vgs: "cluster", lvs: "data|cluster", blkid: fileSystem, findmnt: mountPoint);
        var plan = Service(runner).Plan(Request(Target(7, 0), Target(7, 1), Target(8, 3)) with { LogicalVolume = "data", Grow = true });

        plan.NewDevices.Should().Equal("/dev/etherd/e8.3");
        plan.CreatesGroup.Should().BeFalse();
        plan.Commands.Select(c => c.ToString()).Should().Equal(
            "aoe-discover", "pvcreate /dev/etherd/e8.3", "vgextend cluster /dev/etherd/e8.3", "lvextend --extents +100%FREE /dev/cluster/data", grow);
    }

    [Fact]
    public void Members_are_not_added_twice_and_an_unmounted_xfs_is_not_grown()
    {
        var members = Lvm(pvs: "/dev/etherd/e7.0|cluster", vgs: "cluster", lvs: "data|cluster", blkid: "xfs");
        Service(members).Plan(Request(Target(7, 0)) with { LogicalVolume = "data" }).Commands.Select(c => c.Tool).Should().Equal("aoe-discover");
        FluentActions.Invoking(() => Service(members).Plan(Request(Target(7, 0)) with { LogicalVolume = "data", Grow = true }))
            .Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("FileSystemNotMounted");
        var prepared = Lvm(pvs: "/dev/etherd/e9.1|", vgs: "cluster");
        Service(prepared).Plan(Request(Target(9, 1))).Commands.Select(c => c.ToString()).Should().Equal(
            "aoe-discover", "vgextend cluster /dev/etherd/e9.1");
    }

    [Fact]
    public void A_disk_of_another_group_and_bad_names_are_refused()
    {
        var runner = Lvm(pvs: "/dev/etherd/e7.0|archive", vgs: "archive");
        FluentActions.Invoking(() => Service(runner).Plan(Request(Target(7, 0)))).Should().Throw<VolumeInUseException>().WithMessage("*'archive'*");
        FluentActions.Invoking(() => Service(runner).Plan(Request(Target(7, 0)) with { VolumeGroup = "-x" }))
            .Should().Throw<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("InvalidLvmName");
        FluentActions.Invoking(() => Service(runner).Plan(Request(Target(7, 0)) with { Grow = true }))
            .Should().Throw<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("GrowNeedsLogicalVolume");
        FluentActions.Invoking(() => Service(runner).Plan(Request(Target(7, 0)) with { LogicalVolume = "swap", FileSystem = FileSystemType.Swap }))
            .Should().Throw<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("UnsupportedFileSystem");
    }

    [Fact]
    public void Applying_reads_LVM_again_then_runs_the_planned_commands_in_order_journaling_each_and_stops_at_the_first_failure()
    {
        var journal = new List<string>();
        var runner = Lvm(pvs: "/dev/etherd/e7.0|");
        var service = new AtaoeGroupService(JournaledContext(runner, journal), aoeDriver: true, deviceMapper: true) { DeviceWait = TimeSpan.FromMilliseconds(200) };
        var plan = service.Plan(Request(Target(7, 0)));
        plan.Steps.Should().Equal("aoe-discover", "vgcreate cluster /dev/etherd/e7.0");
        runner.Commands.Clear();

        // No aoe driver answers here: aoe-discover runs, its device never appears, and vgcreate is not run.
        FluentActions.Invoking(() => service.Apply(plan)).Should().Throw<StorageObjectNotFoundException>().Which.ErrorId.Should().Be("AoeDeviceMissing");

        runner.Commands.Select(c => c.ToString()).Should().Equal(
            "pvs --noheadings --separator '|' --options pv_name,vg_name", "vgs --noheadings --separator '|' --options vg_name", "aoe-discover");
        journal.Should().Equal("aoe-discover");
        var failing = new RecordingRunner(c => new ToolResult(c, c.Tool == "aoe-discover" ? 1 : 0, c.Tool == "pvs" ? "/dev/etherd/e7.0|" : "", "", TimeSpan.Zero));
        FluentActions.Invoking(() => Service(failing).Apply(plan)).Should().Throw<ToolFailedException>();
        failing.Commands.Select(c => c.Tool).Should().Equal(["pvs", "vgs", "aoe-discover"], "the first failure stops the plan");
    }

    [Fact]
    public void A_group_that_changed_since_the_plan_is_refused_before_any_command()
    {
        var plan = Service(Lvm(pvs: "/dev/etherd/e7.0|")).Plan(Request(Target(7, 0)));
        var changed = Lvm(pvs: "/dev/etherd/e7.0|", vgs: "cluster");

        FluentActions.Invoking(() => Service(changed).Apply(plan)).Should().Throw<StorageOperationException>()
            .Which.Message.Should().Contain("vgextend cluster /dev/etherd/e7.0").And.Contain("nothing was done");
        changed.Commands.Select(c => c.Tool).Should().Equal("pvs", "vgs");
    }

    [Fact]
    public void The_plan_is_an_operation_plan_whose_steps_are_its_command_lines()
    {
        var plan = Service(Lvm()).Plan(Request(Target(7, 0)) with { LogicalVolume = "data" });

        plan.Steps.Should().Equal(plan.Commands.Select(c => c.ToString()));
        (plan.Target, plan.Action, plan.Warnings.Count).Should().Be(("volume group cluster", "Add AoE disks", 0));
        plan.Describe().Should().Be("Add AoE disks: " + string.Join("; ", plan.Steps));
    }

    private StorageContext JournaledContext(IProcessRunner runner, List<string> journal)
    {
        var context = pool.Context(runner);
        return new StorageContext(context.Pools, runner, context.Runtime, context.IsRoot) { Journal = new StepJournal(journal.Add), LockWait = context.LockWait };
    }

    private AtaoeGroupService Service(IProcessRunner runner) => new(pool.Context(runner), aoeDriver: true, deviceMapper: true);

    private static SparseStorageException Refusal(AtaoeGroupService service) =>
        FluentActions.Invoking(() => service.Plan(Request(Target(7, 0)))).Should().Throw<HostNotCapableException>().Which;

    private static AtaoeGroupRequest Request(params AtaoeTarget[] targets) => new() { Targets = targets, VolumeGroup = "cluster" };

    private static AtaoeTarget Target(int shelf, int slot) => new() { Shelf = shelf, Slot = slot, Interface = "eth1", MacAddress = "02:00:00:00:00:01" };

    /// <summary>Answers LVM's reports (and blkid, findmnt) as a host with these groups would.</summary>
    private static RecordingRunner Lvm(string pvs = "", string vgs = "", string lvs = "", string blkid = "", string findmnt = "") =>
        new(command => new ToolResult(command, 0, command.Tool switch
        {
            "pvs" => pvs, "vgs" => vgs, "lvs" => lvs, "blkid" => blkid, "findmnt" => findmnt, _ => "",
        }, "", TimeSpan.Zero));

    public void Dispose() => pool.Dispose();
}
