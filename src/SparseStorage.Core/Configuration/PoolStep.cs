namespace SparseStorage.Core.Configuration;

/// <param name="Kind">What to do.</param>
/// <param name="Description">The change in words, for the verbose stream.</param>
public sealed record PoolStep(PoolStepKind Kind, string Description) : IDesiredStateChange
{
    public override string ToString() => Description;
}
