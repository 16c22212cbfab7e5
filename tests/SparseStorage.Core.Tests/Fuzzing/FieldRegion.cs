namespace SparseStorage.Core.Tests.Fuzzing;

/// <summary>A byte range of header fields and the byte order its numbers use.</summary>
public sealed record FieldRegion(string Name, int Start, int Length, bool BigEndian)
{
    public int End => Start + Length;
}
