using SparseStorage.Core.Ceph;

namespace SparseStorage.Core.Tests.Units;

/// <summary>The JSON of rbd snap ls and rbd children as Pacific prints it.</summary>
public sealed class RbdSnapshotParsingTests
{
    [Fact]
    public void Snapshots_are_read_with_id_size_protection_and_time_oldest_first()
    {
        const string json = """
            [{"id":9,"name":"later","size":134217728,"protected":"true","timestamp":"Wed Dec  2 12:55:01 2026"},
             {"id":4,"name":"s1","size":67108864,"protected":"false","timestamp":"Tue Dec  1 09:05:00 2026"}]
            """;

        var snapshots = RbdSnapshotCommands.Snapshots(json);

        snapshots.Select(s => s.Name).Should().Equal("s1", "later");
        snapshots[0].Should().BeEquivalentTo(new { Id = "4", SizeBytes = 64L << 20, Protected = false });
        snapshots[1].Protected.Should().BeTrue();
        snapshots[1].CreatedUtc.Should().Be(new DateTime(2026, 12, 2, 12, 55, 1, DateTimeKind.Local).ToUniversalTime());
        snapshots[1].CreatedUtc.Kind.Should().Be(DateTimeKind.Utc);
    }

    [Fact]
    public void An_image_without_snapshots_lists_none_and_output_that_is_not_json_is_reported()
    {
        RbdSnapshotCommands.Snapshots("[]").Should().BeEmpty();

        var garbage = () => RbdSnapshotCommands.Snapshots("rbd: error opening image");

        garbage.Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("CephOutputInvalid");
    }

    [Fact]
    public void Children_are_named_by_pool_namespace_and_image()
    {
        const string json = """[{"pool":"rbd","pool_namespace":"","image":"c1"},{"pool":"rbd","pool_namespace":"t1","image":"c2"}]""";

        RbdSnapshotCommands.Children(json).Should().Equal("rbd/c1", "rbd/t1/c2");
    }

    [Fact]
    public void Snapshot_command_lines_carry_the_keyring_path_and_the_pool_options()
    {
        var tools = new CephTools(new CephPoolSettings("/etc/ceph/ceph.conf", "rbd", "sparse", "/etc/ceph/k.keyring", "ns"));

        tools.RollbackSnapshot("disk", "golden").ToString().Should().Be(
            "rbd --conf /etc/ceph/ceph.conf --id sparse --keyring /etc/ceph/k.keyring snap rollback --no-progress --image disk --snap golden --pool rbd --namespace ns");
    }
}
