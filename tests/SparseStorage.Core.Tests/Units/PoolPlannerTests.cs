using System.Collections;
using SparseStorage.Core.Configuration;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

/// <summary>The decisions of the SparseStoragePool DSC resource.</summary>
public sealed class PoolPlannerTests : IDisposable
{
    private readonly TempDirectory directory = new();

    public void Dispose() => directory.Dispose();

    private StoragePool Registered(string path) => new() { Name = "tenants", Path = path };

    private PoolDesiredState Desired(string? path = null, Ensure ensure = Ensure.Present) =>
        new() { Name = "tenants", Path = path ?? directory.Path, Ensure = ensure };

    [Fact]
    public void A_missing_pool_is_registered()
    {
        var plan = PoolPlanner.Plan(Desired(), null);

        plan.Changes.Select(s => s.Kind).Should().Equal(PoolStepKind.Register);
        plan.IsInDesiredState.Should().BeFalse();
    }

    [Fact]
    public void A_pool_registered_at_the_same_directory_is_in_desired_state()
    {
        PoolPlanner.Plan(Desired(directory.Path + "/"), Registered(directory.Path)).IsInDesiredState.Should().BeTrue();
    }

    [Fact]
    public void A_symlink_to_the_pool_directory_names_the_same_pool()
    {
        var link = Path.Combine(directory.Path, "link");
        var target = Directory.CreateDirectory(Path.Combine(directory.Path, "real")).FullName;
        File.CreateSymbolicLink(link, target);

        PoolPlanner.Plan(Desired(link), Registered(target)).IsInDesiredState.Should().BeTrue();
    }

    [Fact]
    public void A_pool_registered_elsewhere_is_a_conflict_and_is_not_moved()
    {
        var plan = PoolPlanner.Plan(Desired(), Registered("/srv/old-pool"));

        plan.Changes.Should().BeEmpty();
        var act = plan.RequireNoConflicts;
        act.Should().Throw<StorageOperationException>().Where(e => e.Message.Contains("SparseStoragePool 'tenants'") && e.Message.Contains("/srv/old-pool"));
    }

    [Fact]
    public void An_absent_pool_is_unregistered_and_a_missing_one_left_alone()
    {
        PoolPlanner.Plan(Desired(ensure: Ensure.Absent), Registered(directory.Path)).Changes.Select(s => s.Kind).Should().Equal(PoolStepKind.Unregister);
        PoolPlanner.Plan(Desired(ensure: Ensure.Absent), null).IsInDesiredState.Should().BeTrue();
    }

    [Fact]
    public void Present_needs_an_absolute_path()
    {
        var missing = () => PoolDesiredState.FromProperties(new Hashtable { ["Name"] = "tenants" });
        var relative = () => PoolDesiredState.FromProperties(new Hashtable { ["Name"] = "tenants", ["Path"] = "pools/tenants" });

        missing.Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == "DesiredStatePropertyMissing");
        relative.Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == "DesiredStatePathNotAbsolute");
    }

    [Fact]
    public void Absent_needs_only_the_name()
    {
        PoolDesiredState.FromProperties(new Hashtable { ["Name"] = "tenants", ["Ensure"] = "absent" }).Ensure.Should().Be(Ensure.Absent);
    }
}
