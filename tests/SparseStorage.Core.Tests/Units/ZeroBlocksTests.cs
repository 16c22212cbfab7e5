using SparseStorage.Core.Copying;

namespace SparseStorage.Core.Tests.Units;

public sealed class ZeroBlocksTests
{
    private const int Block = SparseCopier.ZeroBlockSize;

    [Fact]
    public void Runs_of_non_zero_blocks_are_found_on_block_boundaries()
    {
        var data = new byte[8 * Block];
        data[2 * Block + 17] = 1;
        data[3 * Block] = 1;
        data[6 * Block + Block - 1] = 1;

        ZeroBlocks.NextNonZeroBlock(data, 0).Should().Be(2 * Block);
        ZeroBlocks.NextZeroBlock(data, 2 * Block).Should().Be(4 * Block);
        ZeroBlocks.NextNonZeroBlock(data, 4 * Block).Should().Be(6 * Block);
        ZeroBlocks.NextZeroBlock(data, 6 * Block).Should().Be(7 * Block);
        ZeroBlocks.NextNonZeroBlock(data, 7 * Block).Should().Be(data.Length);
    }

    [Fact]
    public void A_trailing_partial_block_is_never_taken_for_a_zero_block()
    {
        var data = new byte[Block + 100];
        data[0] = 9;
        ZeroBlocks.NextZeroBlock(data, 0).Should().Be(data.Length);
        ZeroBlocks.IsZero(new byte[100]).Should().BeTrue();
        ZeroBlocks.IsZero(data).Should().BeFalse();
    }
}
