namespace SparseStorage.Core.Copying;

/// <summary>Finds runs of all-zero blocks in a buffer, which a sparse copy leaves as holes.</summary>
public static class ZeroBlocks
{
    public static bool IsZero(ReadOnlySpan<byte> block) => !block.ContainsAnyExcept((byte)0);

    /// <summary>The start of the first block at or after <paramref name="from"/> holding a non-zero byte, or the buffer's length.</summary>
    public static int NextNonZeroBlock(ReadOnlySpan<byte> data, int from)
    {
        var index = data[from..].IndexOfAnyExcept((byte)0);
        return index < 0 ? data.Length : from + (index / SparseCopier.ZeroBlockSize) * SparseCopier.ZeroBlockSize;
    }

    /// <summary>The start of the first all-zero whole block at or after <paramref name="from"/>, or the buffer's length.</summary>
    public static int NextZeroBlock(ReadOnlySpan<byte> data, int from)
    {
        for (var position = from; position < data.Length; position += SparseCopier.ZeroBlockSize)
        {
            var block = data.Slice(position, Math.Min(SparseCopier.ZeroBlockSize, data.Length - position));
            if (block.Length == SparseCopier.ZeroBlockSize && IsZero(block))
                return position;
        }
        return data.Length;
    }
}
