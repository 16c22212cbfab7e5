using SparseStorage.Core.Native;
using static SparseStorage.Core.Native.PhysicalExtents;

namespace SparseStorage.Core.Backups;

/// <summary>
/// Finds the blocks of an image that certainly hold the same bytes as a reference clone of it: those whose every
/// byte sits at the same place on the device in both files. A copy-on-write filesystem (xfs, btrfs) never writes
/// a shared block in place, and the reference is never written, so a block still shared holds the reference's data.
/// Anything the block map cannot vouch for — delayed, inline, compressed or encrypted extents — counts as changed.
/// </summary>
internal static class UnchangedBlocks
{
    private const uint Unvouched = Unknown | DelayedAllocation | Encoded | DataEncrypted | NotAligned | DataInline | DataTail;

    /// <summary>Indices of the blocks that both maps place identically, holes included.</summary>
    public static HashSet<long> Find(IReadOnlyList<PhysicalExtent> current, IReadOnlyList<PhysicalExtent> reference, int blockSize)
    {
        var unchanged = new HashSet<long>();
        using var mine = ByBlock(current, blockSize).GetEnumerator();
        using var theirs = ByBlock(reference, blockSize).GetEnumerator();
        var haveMine = mine.MoveNext();
        var haveTheirs = theirs.MoveNext();
        while (haveMine && haveTheirs)
        {
            if (mine.Current.Block < theirs.Current.Block)
                haveMine = mine.MoveNext();
            else if (mine.Current.Block > theirs.Current.Block)
                haveTheirs = theirs.MoveNext();
            else
            {
                if (mine.Current.Pieces is { } a && theirs.Current.Pieces is { } b && a.SequenceEqual(b))
                    unchanged.Add(mine.Current.Block);
                haveMine = mine.MoveNext();
                haveTheirs = theirs.MoveNext();
            }
        }
        return unchanged;
    }

    /// <summary>One stretch of a block that lies contiguously on the device.</summary>
    private readonly record struct Piece(long Start, long Physical, long Length, bool Unwritten);

    /// <summary>
    /// The blocks the extents touch, in order, each with its pieces merged where they continue one another (two
    /// files may split the same run into different extents); null pieces for a block the map cannot vouch for.
    /// </summary>
    private static IEnumerable<(long Block, List<Piece>? Pieces)> ByBlock(IReadOnlyList<PhysicalExtent> extents, int blockSize)
    {
        long block = -1;
        List<Piece>? pieces = null;
        foreach (var extent in extents.OrderBy(e => e.Logical))
        {
            for (var position = extent.Logical; position < extent.End;)
            {
                var index = position / blockSize;
                if (index != block)
                {
                    if (block >= 0)
                        yield return (block, pieces);
                    (block, pieces) = (index, []);
                }
                var end = Math.Min(extent.End, (index + 1) * blockSize);
                if ((extent.Flags & Unvouched) != 0)
                    pieces = null;
                else if (pieces is not null)
                    Append(pieces, new Piece(position, extent.Physical + (position - extent.Logical), end - position, (extent.Flags & Unwritten) != 0));
                position = end;
            }
        }
        if (block >= 0)
            yield return (block, pieces);
    }

    private static void Append(List<Piece> pieces, Piece piece)
    {
        if (pieces.Count > 0 && pieces[^1] is var last && last.Start + last.Length == piece.Start
            && last.Physical + last.Length == piece.Physical && last.Unwritten == piece.Unwritten)
            pieces[^1] = last with { Length = last.Length + piece.Length };
        else
            pieces.Add(piece);
    }
}
