namespace SparseStorage.Core.Tests.Fuzzing;

/// <summary>Bytes written over a corpus image at an offset.</summary>
public sealed record BytePatch(long Offset, byte[] Bytes);

/// <summary>
/// One crafted input: a corpus image with patches applied in order, then cut to <see cref="Length"/> when set.
/// <see cref="Description"/> says enough to rebuild it by hand.
/// </summary>
public sealed record HeaderMutation(CorpusImage Image, string Description, IReadOnlyList<BytePatch> Patches, long? Length = null)
{
    /// <summary>The file length after the mutation.</summary>
    public long FileLength => Math.Min(Length ?? long.MaxValue, Math.Max(Image.Bytes.Length, Patches.Select(p => p.Offset + p.Bytes.Length).DefaultIfEmpty(0).Max()));

    /// <summary>The mutated file's bytes.</summary>
    public byte[] Apply() => ApplyHead(int.MaxValue);

    /// <summary>The first <paramref name="maxLength"/> bytes of the mutated file (fewer when it is shorter).</summary>
    public byte[] ApplyHead(int maxLength)
    {
        var bytes = new byte[Math.Min(FileLength, maxLength)];
        Image.Bytes.AsSpan(0, (int)Math.Min(Image.Bytes.Length, bytes.Length)).CopyTo(bytes);
        foreach (var patch in Patches.Where(p => p.Offset < bytes.Length))
            patch.Bytes.AsSpan(0, (int)Math.Min(patch.Bytes.Length, bytes.Length - patch.Offset)).CopyTo(bytes.AsSpan((int)patch.Offset));
        return bytes;
    }

    public override string ToString() => $"{Image.Name}: {Description}";
}
