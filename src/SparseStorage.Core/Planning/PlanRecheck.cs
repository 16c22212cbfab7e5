using System.Text.RegularExpressions;

namespace SparseStorage.Core.Planning;

/// <summary>
/// Apply's re-check of what a plan assumed: the same request planned again, under the lock, must give the same steps.
/// A volume mounted, written, reformatted or replaced since the plan was confirmed gives other steps (or Plan's own
/// refusal), and nothing runs. The names of work files differ between two plans by design and are not compared.
/// </summary>
public static partial class PlanRecheck
{
    [GeneratedRegex(@"\.sparsestorage-partial-[^\s/']+")]
    private static partial Regex WorkFileName();

    public static void RequireSameSteps(OperationPlan confirmed, OperationPlan now)
    {
        var planned = confirmed.Steps.Select(Comparable).ToList();
        var current = now.Steps.Select(Comparable).ToList();
        if (planned.SequenceEqual(current))
            return;
        throw new StorageOperationException("ChangedSincePlanned",
            $"{confirmed.Target} changed after the plan was made, so nothing was done. Planned: {string.Join("; ", confirmed.Steps)}. " +
            $"Now it would be: {string.Join("; ", now.Steps)}. Run the command again to plan it anew.", confirmed.Target);
    }

    private static string Comparable(string step) => WorkFileName().Replace(step, "<work file>");
}
