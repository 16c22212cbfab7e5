namespace SparseStorage.Core.Configuration;

/// <summary>The plan of the SparseStoragePool resource; see <see cref="PoolPlanner"/>.</summary>
public sealed record PoolPlan : DesiredStatePlan<PoolStep>
{
    internal PoolPlan(string target, IReadOnlyList<string> differences, IReadOnlyList<string> conflicts, IReadOnlyList<PoolStep> changes)
        : base("SparseStoragePool", target, differences, conflicts, changes)
    {
    }
}
