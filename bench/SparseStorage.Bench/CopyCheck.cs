namespace SparseStorage.Bench;

/// <summary>
/// What one copy was checked for: identical bytes (<see cref="ComparedBy"/> says how), allocated size against the
/// source's, and how many of its extents the filesystem reports as shared (FIEMAP "shared": a reflink).
/// </summary>
internal sealed record CopyCheck(bool Identical, string ComparedBy, long SourceAllocated, long CopyAllocated, int Extents, int SharedExtents)
{
    public const long AllocationTolerance = 1 << 20;

    public bool AllocationMatches => Math.Abs(CopyAllocated - SourceAllocated) <= AllocationTolerance;
    public bool Passed => Identical && AllocationMatches;
    public bool Reflinked => SharedExtents > 0;

    /// <summary>What failed, for the summary: "different bytes" and/or the allocation difference.</summary>
    public string Failure() => string.Join(", ", new[]
    {
        Identical ? null : "different bytes",
        AllocationMatches ? null : $"allocated {(CopyAllocated > SourceAllocated ? "+" : "")}{Stats.Bytes(CopyAllocated - SourceAllocated)} vs source",
    }.OfType<string>());

    public string Describe() =>
        $"{ComparedBy}: {(Identical ? "identical" : "DIFFERENT")}; allocated {Stats.Bytes(CopyAllocated)} vs source {Stats.Bytes(SourceAllocated)}, " +
        $"difference {Stats.Bytes(CopyAllocated - SourceAllocated)} ({(AllocationMatches ? "within 1 MiB" : "NOT within 1 MiB")}); " +
        $"{SharedExtents} of {Extents} extents shared ({(Reflinked ? "reflink" : "no reflink")})";
}
