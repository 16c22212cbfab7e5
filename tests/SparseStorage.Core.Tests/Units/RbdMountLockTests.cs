using SparseStorage.Core.Ceph;
using SparseStorage.Core.Host;

namespace SparseStorage.Core.Tests.Units;

public sealed class RbdMountLockTests
{
    [Fact]
    public void A_lock_reads_its_holder_locker_cookie_and_address_from_rados_lock_info()
    {
        const string json = """
            {"name":"mount","type":"exclusive","tag":"","lockers":[{"name":"client.4147","cookie":"sparsestorage","description":"sparsestorage mount on node1:/tmp/run","expiration":"0.000000","addr":"198.18.129.1:0/991487773"}]}
            """;

        var lockers = RbdMountLock.ParseLocks(json);

        lockers.Should().Equal(new RbdLock("sparsestorage mount on node1:/tmp/run", "client.4147", "sparsestorage", "198.18.129.1:0/991487773"));
        lockers[0].Holder.Should().Be("node1:/tmp/run");
        lockers[0].Describe().Should().Contain("host 'node1:/tmp/run'").And.Contain("client.4147");
    }

    [Fact]
    public void A_released_lock_has_no_lockers_and_watchers_are_read_by_address()
    {
        RbdMountLock.ParseLocks("""{"name":"mount","type":"exclusive","tag":"","lockers":[]}""").Should().BeEmpty();
        RbdMountLock.ParseWatchers("""{"watchers":[{"address":"198.18.129.1:0/2206520593","client":4160,"cookie":140}]}""")
            .Should().Equal("198.18.129.1:0/2206520593");
    }

    [Fact]
    public void A_host_with_its_own_runtime_directory_is_a_host_of_its_own()
    {
        RbdMountLock.HolderOf(new RuntimePaths("/tmp/host-b/run")).Should().Be(Environment.MachineName + ":/tmp/host-b/run");
        RbdMountLock.HolderOf(new RuntimePaths("/run/sparsestorage")).Should().Be(Environment.MachineName);
    }
}
