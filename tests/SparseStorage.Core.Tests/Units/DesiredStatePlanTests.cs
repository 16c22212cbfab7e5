using SparseStorage.Core.Configuration;
using SparseStorage.Core.Planning;

namespace SparseStorage.Core.Tests.Units;

/// <summary>DSC's plans are operation plans: their steps are the descriptions of their typed changes, in the same order.</summary>
public sealed class DesiredStatePlanTests
{
    private const long GiB = 1L << 30;

    private static VolumeDesiredState Desired(long size = GiB) => new()
    {
        Name = "web01", Pool = "tenants", Size = new ByteSize(size), Format = VolumeFormat.Raw, FileSystem = FileSystemType.Ext4,
    };

    private static SparseVolume Volume(long size = GiB, string? mountPoint = null) => new()
    {
        Name = "web01", Path = "/srv/pools/tenants/web01.img", Pool = "tenants", Format = VolumeFormat.Raw, SizeBytes = size,
        FileSystem = FileSystemType.Ext4, MountPoint = mountPoint, IsMounted = mountPoint is not null, IsAttached = mountPoint is not null,
    };

    [Fact]
    public void A_volume_plan_shows_its_changes_as_its_steps_in_order()
    {
        OperationPlan plan = VolumePlanner.Plan(Desired() with { Encrypted = true, KeyFile = "/etc/keys/web01.key", MountPoint = "/srv/web01" }, null);

        var volumePlan = (VolumePlan)plan;
        plan.Steps.Should().Equal(volumePlan.Changes.Select(c => c.Description));
        plan.Steps.Should().Equal(
            "create web01 in pool tenants: Raw, 1 GiB, filesystem Ext4", "encrypt web01 with the key file", "mount web01 at /srv/web01");
        (plan.Target, plan.Action, plan.Impact).Should().Be(("tenants/web01", "Set SparseVolume 'tenants/web01'", PlanImpact.Medium));
        plan.Describe().Should().Be("Set SparseVolume 'tenants/web01': " + string.Join("; ", plan.Steps));
    }

    [Fact]
    public void Removing_or_shrinking_a_volume_is_high_impact_and_growing_it_is_not()
    {
        VolumePlanner.Plan(Desired() with { Ensure = Ensure.Absent, Size = null }, Volume(mountPoint: "/srv/web01")).Impact.Should().Be(PlanImpact.High);
        VolumePlanner.Plan(Desired(GiB) with { AllowShrink = true }, Volume(size: 2 * GiB)).Impact.Should().Be(PlanImpact.High);
        var grow = VolumePlanner.Plan(Desired(2 * GiB), Volume());
        grow.Impact.Should().Be(PlanImpact.Medium);
        grow.Steps.Should().Equal("grow web01 from 1 GiB to 2 GiB");
    }

    [Fact]
    public void A_conflict_leaves_a_plan_with_no_steps_that_describes_only_its_action()
    {
        var plan = VolumePlanner.Plan(Desired() with { Format = VolumeFormat.Qcow2 }, Volume());

        plan.Conflicts.Should().NotBeEmpty();
        (plan.Changes.Count, plan.Steps.Count).Should().Be((0, 0));
        plan.Describe().Should().Be("Set SparseVolume 'tenants/web01'");
    }

    [Fact]
    public void A_volume_in_its_desired_state_plans_no_steps()
    {
        var plan = VolumePlanner.Plan(Desired() with { MountPoint = "/srv/web01" }, Volume(mountPoint: "/srv/web01"));

        plan.IsInDesiredState.Should().BeTrue();
        plan.Steps.Should().BeEmpty();
    }

    [Fact]
    public void A_pool_plan_shows_its_registration_as_its_step()
    {
        OperationPlan register = PoolPlanner.Plan(new PoolDesiredState { Name = "tenants", Path = "/srv/pools/tenants" }, null);
        var unregister = PoolPlanner.Plan(new PoolDesiredState { Name = "tenants", Ensure = Ensure.Absent }, new StoragePool { Name = "tenants", Path = "/srv/pools/tenants" });

        register.Steps.Should().Equal(((PoolPlan)register).Changes.Select(c => c.Description)).And.Equal("register pool tenants at /srv/pools/tenants");
        register.Describe().Should().Be("Set SparseStoragePool 'tenants': register pool tenants at /srv/pools/tenants");
        unregister.Steps.Should().Equal("unregister pool tenants (its files stay in /srv/pools/tenants)");
        unregister.Impact.Should().Be(PlanImpact.Medium, "unregistering keeps the pool's files");
    }
}
