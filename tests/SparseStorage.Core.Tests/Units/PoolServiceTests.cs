using System.Text.Json;
using SparseStorage.Core.Host;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

public sealed class PoolServiceTests : IDisposable
{
    private readonly TempDirectory scratch = new("sparse-pools");
    private readonly PoolService pools;

    public PoolServiceTests()
    {
        Directory.CreateDirectory(scratch.Combine("a"));
        Directory.CreateDirectory(scratch.Combine("b"));
        pools = new PoolService(new PoolConfiguration(scratch.Combine("etc", "pools.json")));
    }

    [Fact]
    public void Registers_resolving_the_directory_and_persists_it()
    {
        var pool = pools.Register("tenants", scratch.Combine("a", "..", "a"));
        pool.Path.Should().Be(scratch.Combine("a"));
        pool.VolumeCount.Should().Be(0);
        pool.CapacityBytes.Should().BeGreaterThan(0);
        pool.HostFileSystem.Should().NotBeEmpty();
        using var saved = JsonDocument.Parse(File.ReadAllText(scratch.Combine("etc", "pools.json")));
        saved.RootElement.GetProperty("pools")[0].GetProperty("name").GetString().Should().Be("tenants");
        pools.Get().Select(p => p.Name).Should().Equal("tenants");
    }

    [Fact]
    public void Refuses_duplicates_overlaps_missing_directories_and_bad_names()
    {
        pools.Register("one", scratch.Combine("a"));
        FluentActions.Invoking(() => pools.Register("ONE", scratch.Combine("b"))).Should().Throw<ResourceExistsException>().Where(e => e.ErrorId == "PoolExists");
        Directory.CreateDirectory(scratch.Combine("a", "inner"));
        FluentActions.Invoking(() => pools.Register("inner", scratch.Combine("a", "inner"))).Should().Throw<ResourceExistsException>().Where(e => e.ErrorId == "PoolOverlaps");
        FluentActions.Invoking(() => pools.Register("outer", scratch.Path)).Should().Throw<ResourceExistsException>().Where(e => e.ErrorId == "PoolOverlaps");
        FluentActions.Invoking(() => pools.Register("gone", scratch.Combine("missing"))).Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == "PoolPathNotFound");
        FluentActions.Invoking(() => pools.Register("a/b", scratch.Combine("b"))).Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == "InvalidPoolName");
        pools.Definitions().Should().HaveCount(1);
    }

    [Fact]
    public void Unregisters_without_touching_files()
    {
        pools.Register("one", scratch.Combine("a"));
        File.WriteAllText(scratch.Combine("a", "v.img"), "x");
        pools.Unregister("one", new AttachmentState([], [], [])).Name.Should().Be("one");
        pools.Definitions().Should().BeEmpty();
        File.Exists(scratch.Combine("a", "v.img")).Should().BeTrue();
        FluentActions.Invoking(() => pools.Unregister("one", new AttachmentState([], [], []))).Should().Throw<PoolNotFoundException>();
    }

    [Fact]
    public void Confines_paths_to_pools_through_dotdot_and_symlinks()
    {
        pools.Register("one", scratch.Combine("a"));
        pools.Confine(scratch.Combine("a", "new.img")).Path.Should().Be(scratch.Combine("a", "new.img"));
        FluentActions.Invoking(() => pools.Confine(scratch.Combine("a", "..", "b", "x.img"))).Should().Throw<PathOutsidePoolException>();
        File.CreateSymbolicLink(scratch.Combine("a", "escape.img"), scratch.Combine("b", "target.img"));
        File.WriteAllText(scratch.Combine("b", "target.img"), "");
        FluentActions.Invoking(() => pools.Confine(scratch.Combine("a", "escape.img"))).Should().Throw<PathOutsidePoolException>()
            .WithMessage("*resolves to*b/target.img*not inside any registered pool*");
        Directory.CreateSymbolicLink(scratch.Combine("a", "dirlink"), scratch.Combine("b"));
        FluentActions.Invoking(() => pools.Confine(scratch.Combine("a", "dirlink", "new.img"))).Should().Throw<PathOutsidePoolException>();
        File.CreateSymbolicLink(scratch.Combine("a", "dangling.img"), scratch.Combine("b", "nothing.img"));
        FluentActions.Invoking(() => pools.Confine(scratch.Combine("a", "dangling.img"))).Should().Throw<PathOutsidePoolException>().WithMessage("*dangling*");
        FluentActions.Invoking(() => pools.Confine(scratch.Combine("a"))).Should().Throw<PathOutsidePoolException>("the pool directory itself is no volume");
    }

    [Fact]
    public void Accounts_provisioned_and_allocated_bytes_and_overcommit()
    {
        pools.Register("one", scratch.Combine("a"));
        using (var thin = File.Create(scratch.Combine("a", "thin.img")))
            thin.SetLength(8L << 40); // 8 TiB promised, nothing written (ext4 files stop at 16 TiB)
        using (var written = File.Create(scratch.Combine("a", "small.img")))
            written.Write(new byte[1 << 20].Select(_ => (byte)1).ToArray());
        File.WriteAllText(scratch.Combine("a", "notes.txt"), "not a volume");

        var pool = pools.Get(["one"]).Single();
        pool.VolumeCount.Should().Be(2);
        pool.ProvisionedBytes.Should().Be((8L << 40) + (1 << 20));
        pool.AllocatedBytes.Should().BeInRange(1 << 20, 2 << 20);
        pool.OvercommitRatio.Should().BeApproximately((double)pool.ProvisionedBytes / pool.CapacityBytes, 0.01).And.BeGreaterThan(1);
    }

    [Fact]
    public void Concurrent_registrations_all_survive_the_atomic_rewrite()
    {
        var names = Enumerable.Range(0, 12).Select(i => $"p{i}").ToList();
        foreach (var name in names)
            Directory.CreateDirectory(scratch.Combine("many", name));
        Parallel.ForEach(names, name => new PoolService(new PoolConfiguration(scratch.Combine("etc", "pools.json"))).Register(name, scratch.Combine("many", name)));
        pools.Definitions().Select(p => p.Name).Should().BeEquivalentTo(names);
        Directory.GetFiles(scratch.Combine("etc")).Should().NotContain(f => f.Contains(".tmp-"));
    }

    [Fact]
    public void A_corrupt_configuration_is_reported_with_its_path()
    {
        Directory.CreateDirectory(scratch.Combine("etc"));
        File.WriteAllText(scratch.Combine("etc", "pools.json"), "{ not json");
        FluentActions.Invoking(() => pools.Definitions()).Should().Throw<StorageOperationException>()
            .Where(e => e.ErrorId == "PoolConfigurationInvalid" && e.Message.Contains("pools.json"));
    }

    [Fact]
    public void Exact_names_that_match_nothing_are_errors_but_wildcards_are_not()
    {
        pools.Register("one", scratch.Combine("a"));
        pools.Get(["z*"]).Should().BeEmpty();
        FluentActions.Invoking(() => pools.Get(["zzz"])).Should().Throw<PoolNotFoundException>();
    }

    public void Dispose() => scratch.Dispose();
}
