namespace SparseStorage.Core.Leftovers;

/// <summary>
/// What a sweep did: <see cref="Removed"/> names each leftover it proved dead and removed; <see cref="Kept"/> each one
/// it found but left, with the reason and what the operator can do.
/// </summary>
public sealed class SweepReport
{
    private readonly List<string> removed = [];
    private readonly List<string> kept = [];

    public IReadOnlyList<string> Removed => removed;
    public IReadOnlyList<string> Kept => kept;

    internal void AddRemoved(string what) => removed.Add(what);
    internal void AddKept(string what) => kept.Add(what);
}
