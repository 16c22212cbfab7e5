using SparseStorage.Core.Ceph;

namespace SparseStorage.Core.Tests.Units;

public sealed class CephCrossPoolCopyTests
{
    [Theory]
    [InlineData("rbd:rbd/ns/web01", "/srv/pools/files/web01.img", true)]
    [InlineData("rbd:rbd/ns/web01", "/srv/pools/files", true)]
    [InlineData("rbd:rbd/ns/web01", "copy", false)]
    [InlineData("rbd:rbd/ns/web01", "rbd:rbd/ns/copy", false)]
    [InlineData("/srv/pools/files/web01.img", "rbd:rbd/ns/web01", true)]
    [InlineData("/srv/pools/files/web01.img", "/srv/pools/other/web01.img", false)]
    [InlineData("/srv/pools/files/web01.img", "copy", false)]
    public void A_copy_crosses_pool_kinds_when_exactly_one_side_is_an_rbd_path(string source, string destination, bool crosses) =>
        CephCrossPoolCopy.Handles(source, destination).Should().Be(crosses);
}
