namespace SparseStorage.Core.Configuration;

/// <summary>
/// How a resource differs from its desired state, and the ordered steps that make it match. A conflict is a difference
/// no step may fix without losing data or doing what was not asked; any conflict empties the steps.
/// </summary>
public abstract class DesiredStatePlan<TStep>
{
    private protected DesiredStatePlan(string resource, string target, IReadOnlyList<string> differences, IReadOnlyList<string> conflicts, IReadOnlyList<TStep> steps)
    {
        Resource = resource;
        Target = target;
        Differences = differences;
        Conflicts = conflicts;
        Steps = conflicts.Count > 0 ? [] : steps;
    }

    /// <summary>The DSC resource type, e.g. "SparseVolume".</summary>
    public string Resource { get; }
    /// <summary>What the resource instance names, e.g. "tenants/web01".</summary>
    public string Target { get; }
    public IReadOnlyList<string> Differences { get; }
    public IReadOnlyList<string> Conflicts { get; }
    public IReadOnlyList<TStep> Steps { get; }

    public bool IsInDesiredState => Differences.Count == 0 && Conflicts.Count == 0;

    /// <summary>Throws before anything changes when a difference cannot be fixed safely; the message lists every conflict.</summary>
    public void RequireNoConflicts()
    {
        if (Conflicts.Count > 0)
            throw new StorageOperationException("DesiredStateConflict",
                $"{Resource} '{Target}' cannot be brought to its desired state, so nothing was changed: {string.Join(" ", Conflicts)}", Target);
    }
}
