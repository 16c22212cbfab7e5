using SparseStorage.Core.Planning;

namespace SparseStorage.Core.Configuration;

/// <summary>
/// How a resource differs from its desired state, and the ordered changes that make it match (<see cref="Changes"/>,
/// typed for the DSC resource that carries them out; <see cref="OperationPlan.Steps"/> are their descriptions). A
/// conflict is a difference no change may fix without losing data or doing what was not asked; any conflict empties the changes.
/// </summary>
public abstract record DesiredStatePlan<TChange> : OperationPlan where TChange : IDesiredStateChange
{
    private protected DesiredStatePlan(string resource, string target, IReadOnlyList<string> differences, IReadOnlyList<string> conflicts, IReadOnlyList<TChange> changes)
    {
        Resource = resource;
        Target = target;
        Differences = differences;
        Conflicts = conflicts;
        Changes = conflicts.Count > 0 ? [] : changes;
    }

    /// <summary>The DSC resource type, e.g. "SparseVolume".</summary>
    public string Resource { get; }
    /// <summary>What the resource instance names, e.g. "tenants/web01".</summary>
    public override string Target { get; }
    public override string Action => $"Set {Resource} '{Target}'";
    public IReadOnlyList<string> Differences { get; }
    public IReadOnlyList<string> Conflicts { get; }
    /// <summary>The changes in order, each done by one cmdlet.</summary>
    public IReadOnlyList<TChange> Changes { get; }
    public override IReadOnlyList<string> Steps => Changes.Select(c => c.Description).ToList();

    public bool IsInDesiredState => Differences.Count == 0 && Conflicts.Count == 0;

    /// <summary>Throws before anything changes when a difference cannot be fixed safely; the message lists every conflict.</summary>
    public void RequireNoConflicts()
    {
        if (Conflicts.Count > 0)
            throw new StorageOperationException("DesiredStateConflict",
                $"{Resource} '{Target}' cannot be brought to its desired state, so nothing was changed: {string.Join(" ", Conflicts)}", Target);
    }
}

/// <summary>One change of a DSC plan: what the resource does, and its description as the plan's steps show it.</summary>
public interface IDesiredStateChange
{
    string Description { get; }
}
