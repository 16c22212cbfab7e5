using SparseStorage.Core.Host;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

/// <summary>Register-StoragePool refuses the root, system trees, shared top directories and pseudo-filesystems, after resolving links.</summary>
public sealed class PoolPathRulesTests : IDisposable
{
    private readonly TempDirectory scratch = new("sparse-pool-rules");
    private readonly PoolService pools;

    public PoolPathRulesTests() => pools = new PoolService(new PoolConfiguration(scratch.Combine("pools.json")));

    [Theory]
    [InlineData("/")]
    [InlineData("/proc")]
    [InlineData("/proc/self")]
    [InlineData("/sys")]
    [InlineData("/sys/fs/cgroup")]
    [InlineData("/dev")]
    [InlineData("/dev/shm")]
    [InlineData("/dev/pts")]
    [InlineData("/etc")]
    [InlineData("/etc/ssl")]
    [InlineData("/usr")]
    [InlineData("/usr/lib")]
    [InlineData("/boot")]
    [InlineData("/run")]
    [InlineData("/bin")]
    [InlineData("/sbin")]
    [InlineData("/lib")]
    [InlineData("/var")]
    [InlineData("/var/lib")]
    [InlineData("/var/tmp")]
    [InlineData("/home")]
    [InlineData("/tmp")]
    [InlineData("/root")]
    [InlineData("/srv")]
    [InlineData("/mnt")]
    public void System_and_pseudo_filesystem_directories_are_refused(string path)
    {
        if (!Directory.Exists(path))
            return; // not on this host (e.g. /boot in a container); the rule is also covered by the unit cases below

        var register = () => pools.Register("unsafe", path);

        register.Should().Throw<UnsafePoolPathException>().Which.ErrorId.Should().Be("UnsafePoolPath");
        pools.Definitions().Should().BeEmpty("nothing was registered");
        File.Exists(scratch.Combine("pools.json")).Should().BeFalse();
    }

    [Fact]
    public void A_link_to_a_system_directory_is_refused_by_where_it_leads()
    {
        var link = scratch.Combine("innocent");
        Directory.CreateSymbolicLink(link, "/etc");

        var error = FluentActions.Invoking(() => pools.Register("linked", link)).Should().Throw<UnsafePoolPathException>().Which;

        error.Message.Should().Contain("'/etc'");
    }

    [Fact]
    public void A_directory_of_its_own_is_accepted()
    {
        Directory.CreateDirectory(scratch.Combine("pool"));

        pools.Register("good", scratch.Combine("pool")).Path.Should().Be(scratch.Combine("pool"));
    }

    [Theory]
    [InlineData("cgroup2")]
    [InlineData("mqueue")]
    [InlineData("debugfs")]
    [InlineData("hugetlbfs")]
    [InlineData("binfmt_misc")]
    public void A_directory_on_a_pseudo_filesystem_is_refused_wherever_it_is_mounted(string type)
    {
        var mounts = new List<MountEntry> { new("0:1", "/", "ext4", "/dev/vda", false), new("0:99", "/srv/odd", type, "none", false) };

        PoolPathRules.Refusal("/srv/odd/pool", mounts).Should().Contain(type);
        PoolPathRules.Refusal("/srv/even/pool", mounts).Should().BeNull();
    }

    [Fact]
    public void A_pool_registered_before_the_rules_is_listed_as_refused_and_never_acted_on()
    {
        Directory.CreateDirectory(scratch.Combine("pool"));
        pools.Register("good", scratch.Combine("pool"));
        new PoolConfiguration(pools.ConfigurationPath).Update(existing => [.. existing, new PoolDefinition("everything", "/")]);
        var refused = new List<UnsafePoolPathException>();

        var listed = pools.Get(onRefused: refused.Add);

        listed.Select(p => p.Name).Should().Equal("good");
        refused.Should().ContainSingle().Which.Message.Should().Contain("everything").And.Contain("root directory");
        pools.Definitions().Select(p => p.Name).Should().Equal("good");
        FluentActions.Invoking(() => pools.Find("everything")).Should().Throw<UnsafePoolPathException>();
        pools.Unregister("everything", new AttachmentState([], [], []));
        pools.Refused().Should().BeEmpty();
    }

    /// <summary>The attack: with "/" registered (before the rules), Remove-SparseVolume deleted a host file. Now nothing outside a pool is reached.</summary>
    [Fact]
    public void With_the_root_registered_a_file_outside_every_pool_is_neither_found_nor_removed()
    {
        var victim = scratch.Combine("host-file.img");
        File.WriteAllText(victim, "not a tenant's volume");
        var before = Files.HashFile(victim);
        var config = new PoolConfiguration(pools.ConfigurationPath);
        config.Update(existing => [.. existing, new PoolDefinition("everything", "/")]);
        var context = new StorageContext(pools, new Processes.ProcessRunner(), new RuntimePaths(scratch.Combine("run")), isRoot: true);

        var find = () => new Volumes.VolumeCatalog(context).Get(victim);

        find.Should().Throw<UnsafePoolPathException>().Which.Message.Should().Contain("everything");
        var remove = () => new Volumes.VolumeRemover(context).Remove(new SparseVolume { Name = "host-file", Path = victim, Pool = "everything" }, wipe: true);
        remove.Should().Throw<UnsafePoolPathException>();
        File.Exists(victim).Should().BeTrue();
        Files.HashFile(victim).Should().Be(before);
        FluentActions.Invoking(() => pools.Register("again", "/")).Should().Throw<UnsafePoolPathException>();
    }

    public void Dispose() => scratch.Dispose();
}
