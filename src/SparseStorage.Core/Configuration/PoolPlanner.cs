namespace SparseStorage.Core.Configuration;

/// <summary>
/// Compares a registered pool with its desired state. A pool registered for another directory is a conflict, not a
/// re-registration: its volumes would stay behind in the old directory, out of the pool.
/// </summary>
public static class PoolPlanner
{
    /// <param name="pool">The pool of that name as Get-StoragePool reports it, or null when none is registered.</param>
    public static PoolPlan Plan(PoolDesiredState desired, StoragePool? pool)
    {
        ArgumentNullException.ThrowIfNull(desired);
        var differences = new List<string>();
        var conflicts = new List<string>();
        var steps = new List<PoolStep>();
        if (desired.Ensure == Ensure.Absent && pool is not null)
        {
            differences.Add($"Ensure: the pool is registered at {pool.Path}, wanted Absent.");
            steps.Add(new PoolStep(PoolStepKind.Unregister, $"unregister pool {pool.Name} (its files stay in {pool.Path})"));
        }
        else if (desired.Ensure == Ensure.Present && pool is null)
        {
            differences.Add("Ensure: the pool is not registered, wanted Present.");
            steps.Add(new PoolStep(PoolStepKind.Register, $"register pool {desired.Name} at {desired.Path}"));
        }
        else if (desired.Ensure == Ensure.Present && !ConfigurationPaths.AreSame(pool!.Path, desired.Path!))
            conflicts.Add($"The pool is registered at {pool.Path}, not {desired.Path}; DSC does not move pools (their volumes would be left behind). Unregister it yourself first.");
        return new PoolPlan(desired.Name, differences, conflicts, steps);
    }
}
