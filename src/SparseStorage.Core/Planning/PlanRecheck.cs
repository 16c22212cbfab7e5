namespace SparseStorage.Core.Planning;

/// <summary>
/// Apply's re-check of what a plan assumed: the same request planned again, under the lock, must give the same steps.
/// A volume mounted, written, reformatted or replaced since the plan was confirmed gives other steps (or Plan's own
/// refusal), and nothing runs.
/// </summary>
public static class PlanRecheck
{
    public static void RequireSameSteps(OperationPlan confirmed, OperationPlan now)
    {
        if (confirmed.Steps.SequenceEqual(now.Steps))
            return;
        throw new StorageOperationException("ChangedSincePlanned",
            $"{confirmed.Target} changed after the plan was made, so nothing was done. Planned: {string.Join("; ", confirmed.Steps)}. " +
            $"Now it would be: {string.Join("; ", now.Steps)}. Run the command again to plan it anew.", confirmed.Target);
    }
}
