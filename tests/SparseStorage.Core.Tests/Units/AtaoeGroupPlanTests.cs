using SparseStorage.Core.Aoe;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

/// <summary>The supervisor's LVM plan, built against LVM reports answered through the runner seam.</summary>
public sealed class AtaoeGroupPlanTests : IDisposable
{
    private readonly TestPool pool = new();

    [Fact]
    public void A_host_without_the_aoe_driver_or_device_mapper_is_told_what_is_missing_and_runs_nothing()
    {
        var runner = new RecordingRunner();
        var neither = Refusal(new AtaoeGroupService(pool.Context(runner), aoeDriver: false, deviceMapper: false));
        neither.ErrorId.Should().Be("AoeDriverMissing");
        neither.Message.Should().Contain("the aoe driver").And.Contain("device-mapper");
        var noMapper = Refusal(new AtaoeGroupService(pool.Context(runner), aoeDriver: true, deviceMapper: false));
        noMapper.ErrorId.Should().Be("DeviceMapperMissing");
        noMapper.Message.Should().Contain("device-mapper").And.NotContain("aoe driver");
        runner.Commands.Should().BeEmpty();
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
    public void Applying_runs_the_commands_in_order_and_reports_them()
    {
        var runner = new RecordingRunner();
        var request = Request(Target(7, 0));
        var plan = new AtaoeGroupPlan(request, ["/dev/etherd/e7.0"], true,
            [new ToolCommand("pvcreate", "/dev/etherd/e7.0"), new ToolCommand("vgcreate", "cluster", "/dev/etherd/e7.0")]);

        var update = Service(runner).Apply(plan);

        runner.Commands.Should().Equal(plan.Commands);
        update.Commands.Should().Equal("pvcreate /dev/etherd/e7.0", "vgcreate cluster /dev/etherd/e7.0");
        (update.VolumeGroup, update.CreatedGroup, update.LogicalVolumePath).Should().Be(("cluster", true, null));
        var failing = new RecordingRunner(c => new ToolResult(c, 5, "", "Device /dev/etherd/e7.0 excluded by a filter.", TimeSpan.Zero));
        FluentActions.Invoking(() => Service(failing).Apply(plan)).Should().Throw<ToolFailedException>();
        failing.Commands.Should().ContainSingle("the first failure stops the plan");
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
