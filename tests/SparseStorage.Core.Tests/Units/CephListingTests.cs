using SparseStorage.Core.Ceph;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

/// <summary>Reading rbd's and ceph's JSON (as Ceph 16.2 prints it), and the command lines of a Ceph pool.</summary>
public sealed class CephListingTests
{
    // rbd ls --long --format json: a clone, a plain image, and an image with one protected snapshot.
    private const string LongListing = """
        [{"image":"clone1","id":"1033a0c7fae2","size":536870912,"parent":{"pool":"rbd","pool_namespace":"","image":"img2","snapshot":"s1"},"format":2},
         {"image":"img1","id":"102b2abcefb8","size":1073741825,"format":2},
         {"image":"img2","id":"102dfe93dc4d","size":536870912,"format":2},
         {"image":"img2","id":"102dfe93dc4d","snapshot":"s1","snapshot_id":4,"size":536870912,"format":2,"protected":"true"}]
        """;

    // rbd du --format json of the same pool: the snapshot has its own line.
    private const string Usage = """
        {"images":[{"name":"clone1","id":"1033a0c7fae2","provisioned_size":536870912,"used_size":0},
                   {"name":"img1","id":"102b2abcefb8","provisioned_size":1073741825,"used_size":29360128},
                   {"name":"img2","id":"102dfe93dc4d","snapshot":"s1","snapshot_id":4,"provisioned_size":536870912,"used_size":4194304},
                   {"name":"img2","id":"102dfe93dc4d","provisioned_size":536870912,"used_size":8388608}],
         "total_provisioned_size":2147483649,"total_used_size":41943040}
        """;

    [Fact]
    public void Images_are_listed_once_with_their_snapshots_counted_their_head_usage_and_their_parent()
    {
        var images = CephListing.Images(LongListing, Usage);

        images.Select(i => i.Name).Should().Equal("clone1", "img1", "img2");
        images.Single(i => i.Name == "img2").Should().BeEquivalentTo(new RbdImage("img2", "102dfe93dc4d", 536870912, 8388608, 1, null));
        images.Single(i => i.Name == "img1").UsedBytes.Should().Be(29360128);
        images.Single(i => i.Name == "clone1").Parent.Should().Be("rbd:rbd/img2@s1");
    }

    [Fact]
    public void One_image_from_rbd_info_and_its_own_rbd_du_is_the_image_a_listing_gives()
    {
        const string cloneInfo = """
            {"name":"clone1","id":"1033a0c7fae2","size":536870912,"objects":128,"order":22,"object_size":4194304,"snapshot_count":0,
             "block_name_prefix":"rbd_data.1033a0c7fae2","format":2,"features":["layering","exclusive-lock"],"op_features":[],"flags":[],
             "parent":{"pool":"rbd","pool_namespace":"","image":"img2","id":"102dfe93dc4d","snapshot":"s1","trash":false,"overlap":536870912}}
            """;
        const string img2Info = """{"name":"img2","id":"102dfe93dc4d","size":536870912,"snapshot_count":1,"format":2}""";
        const string img2Usage = """
            {"images":[{"name":"img2","id":"102dfe93dc4d","snapshot":"s1","snapshot_id":4,"provisioned_size":536870912,"used_size":4194304},
                       {"name":"img2","id":"102dfe93dc4d","provisioned_size":536870912,"used_size":8388608}]}
            """;
        var listed = CephListing.Images(LongListing, Usage);

        CephListing.Image(img2Info, img2Usage).Should().Be(listed.Single(i => i.Name == "img2"));
        CephListing.Image(cloneInfo, """{"images":[{"name":"clone1","provisioned_size":536870912,"used_size":0}]}""").Should().Be(listed.Single(i => i.Name == "clone1"));
        FluentActions.Invoking(() => CephListing.Image("not json", "{}")).Should().Throw<StorageOperationException>().WithMessage("rbd info printed JSON*");
    }

    [Fact]
    public void The_pools_line_of_ceph_df_gives_stored_and_max_available_and_an_absent_pool_gives_null()
    {
        const string df = """
            {"stats":{"total_bytes":32212254720},"pools":[{"name":"device_health_metrics","id":1,"stats":{"stored":0,"max_avail":9896168448}},
            {"name":"rbd","id":2,"stats":{"stored":659934,"objects":30,"kb_used":2124,"bytes_used":2174976,"percent_used":7.3e-05,"max_avail":9895435264}}]}
            """;

        CephListing.PoolSpace(df, "rbd").Should().Be(new CephPoolSpace(659934, 9895435264));
        CephListing.PoolSpace(df, "nosuchpool").Should().BeNull();
    }

    [Fact]
    public void Output_that_is_not_json_is_an_error_naming_the_tool()
    {
        var reading = () => CephListing.Images("rbd: error", null);

        reading.Should().Throw<StorageOperationException>().Which.Message.Should().Contain("rbd ls --long");
    }

    [Fact]
    public void Watchers_are_read_from_rbd_status()
    {
        CephListing.Watchers("""{"watchers":[{"address":"198.18.1.1:0/3518474113","client":4171,"cookie":140}]}""").Should().Equal("198.18.1.1:0/3518474113");
        CephListing.Watchers("""{"watchers":[]}""").Should().BeEmpty();
    }

    [Theory]
    [InlineData(null, "rbd:rbd/web01", "web01")]
    [InlineData("tenant", "rbd:rbd/tenant/web01", "web01")]
    [InlineData(null, "rbd:rbd/tenant/web01", null)]
    [InlineData("tenant", "rbd:rbd/web01", null)]
    [InlineData(null, "rbd:other/web01", null)]
    [InlineData(null, "/srv/pools/rbd/web01.img", null)]
    public void A_volume_path_names_an_image_only_in_its_own_pool_and_namespace(string? ns, string path, string? image) =>
        new CephPoolSettings("/etc/ceph/ceph.conf", "rbd", "admin", null, ns).ImageOf(path).Should().Be(image);

    [Fact]
    public void Every_command_names_the_configuration_the_client_and_the_keyring_file_and_the_pool_and_namespace_last()
    {
        var tools = new CephTools(new CephPoolSettings("/etc/ceph/ceph.conf", "rbd", "sparse", "/etc/ceph/sparse.keyring", "tenant"));

        tools.Create("web01", 1L << 30).Arguments.Should().Equal("--conf", "/etc/ceph/ceph.conf", "--id", "sparse", "--keyring", "/etc/ceph/sparse.keyring",
            "create", "--size", "1073741824B", "--image", "web01", "--pool", "rbd", "--namespace", "tenant");
        tools.ListImages().ToString().Should().Be("rbd --conf /etc/ceph/ceph.conf --id sparse --keyring /etc/ceph/sparse.keyring ls --long --format json --pool rbd --namespace tenant");
        tools.ClusterUsage().Arguments.Should().NotContain("--pool");
    }

    [Fact]
    public void A_command_that_does_not_handle_ceph_volumes_refuses_one_and_passes_a_file_volume_through()
    {
        var image = new SparseVolume { Name = "web01", Path = "rbd:rbd/web01", Pool = "shared" };
        var file = new SparseVolume { Name = "web01", Path = "/srv/pools/a/web01.img", Pool = "a" };

        var refusal = () => CephPoolSettings.RefuseUnlessFile(image, "Mount-SparseVolume");

        refusal.Should().Throw<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("CephVolumeNotSupported");
        CephPoolSettings.RefuseUnlessFile(file, "Mount-SparseVolume").Should().BeSameAs(file);
    }

    [Fact]
    public void A_ceph_pool_is_stored_with_its_settings_and_needs_no_directory()
    {
        using var root = new TempDirectory("sstest-cephconfig");
        var service = new PoolService(new PoolConfiguration(root.Combine("pools.json")));
        var settings = new CephPoolSettings("/etc/ceph/ceph.conf", "rbd", "sparse", "/etc/ceph/sparse.keyring", "tenant");

        service.AddCeph("shared", settings, 2);

        var stored = new PoolService(new PoolConfiguration(root.Combine("pools.json"))).Find("shared");
        stored.Should().Be(new PoolDefinition("shared", "rbd:rbd/tenant", 2, settings));
        service.DirectoryDefinitions().Should().BeEmpty();
        service.Invoking(s => s.AddCeph("again", settings)).Should().Throw<ResourceExistsException>().Which.ErrorId.Should().Be("PoolOverlaps");
        File.ReadAllText(root.Combine("pools.json")).Should().Contain("\"keyring\": \"/etc/ceph/sparse.keyring\"");
    }
}
