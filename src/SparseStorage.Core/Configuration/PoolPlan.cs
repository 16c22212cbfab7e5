namespace SparseStorage.Core.Configuration;

/// <summary>The plan of the SparseStoragePool resource; see <see cref="PoolPlanner"/>.</summary>
public sealed class PoolPlan : DesiredStatePlan<PoolStep>
{
    internal PoolPlan(string target, IReadOnlyList<string> differences, IReadOnlyList<string> conflicts, IReadOnlyList<PoolStep> steps)
        : base("SparseStoragePool", target, differences, conflicts, steps)
    {
    }
}
