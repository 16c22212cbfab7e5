using SparseStorage.Core.Backups;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Tests.Units;

public sealed class UnchangedBlocksTests
{
    private const int Block = 1 << 20;

    [Fact]
    public void Identical_maps_leave_every_touched_block_unchanged()
    {
        PhysicalExtent[] map = [Extent(0, 100, 3 * Block), Extent(10L * Block, 900, Block / 2)];

        UnchangedBlocks.Find(map, map, Block).Should().BeEquivalentTo(new long[] { 0, 1, 2, 10 });
    }

    [Fact]
    public void A_block_with_any_byte_elsewhere_on_the_device_has_changed()
    {
        PhysicalExtent[] reference = [Extent(0, 0, 2 * Block)];
        PhysicalExtent[] current = [Extent(0, 0, Block + 4096), Extent(Block + 4096, 50L * Block, 4096), Extent(Block + 8192, Block + 8192, Block - 8192)];

        UnchangedBlocks.Find(current, reference, Block).Should().Equal(0);
    }

    [Fact]
    public void The_same_run_split_into_different_extents_is_unchanged()
    {
        PhysicalExtent[] reference = [Extent(0, 7L * Block, 2 * Block)];
        PhysicalExtent[] current = [Extent(0, 7L * Block, Block / 4), Extent(Block / 4, 7L * Block + Block / 4, Block + Block * 3 / 4)];

        UnchangedBlocks.Find(current, reference, Block).Should().BeEquivalentTo(new long[] { 0, 1 });
    }

    [Fact]
    public void Data_where_the_reference_had_a_hole_is_a_change()
    {
        PhysicalExtent[] reference = [Extent(0, 0, Block / 2)];
        PhysicalExtent[] current = [Extent(0, 0, Block)];

        UnchangedBlocks.Find(current, reference, Block).Should().BeEmpty();
    }

    [Theory]
    [InlineData(PhysicalExtents.DelayedAllocation)]
    [InlineData(PhysicalExtents.Encoded)]
    [InlineData(PhysicalExtents.DataInline)]
    [InlineData(PhysicalExtents.Unknown)]
    [InlineData(PhysicalExtents.NotAligned)]
    public void Extents_the_map_cannot_vouch_for_count_as_changed(uint flag)
    {
        PhysicalExtent[] map = [Extent(0, 0, Block, flag), Extent(Block, Block, Block)];

        UnchangedBlocks.Find(map, map, Block).Should().Equal(1);
    }

    [Fact]
    public void An_extent_that_became_written_is_a_change_and_shared_flags_do_not_matter()
    {
        PhysicalExtent[] reference = [Extent(0, 0, Block, PhysicalExtents.Unwritten), Extent(Block, Block, Block, PhysicalExtents.Shared)];
        PhysicalExtent[] current = [Extent(0, 0, Block), Extent(Block, Block, Block, PhysicalExtents.Shared | PhysicalExtents.Last)];

        UnchangedBlocks.Find(current, reference, Block).Should().Equal(1);
    }

    private static PhysicalExtent Extent(long logical, long physical, long length, uint flags = 0) => new(logical, physical, length, flags);
}
