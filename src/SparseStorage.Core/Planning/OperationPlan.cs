namespace SparseStorage.Core.Planning;

/// <summary>
/// What one state-changing operation will do, made by a service's <c>Plan</c> before anything changes: its target,
/// the ordered steps (real command lines, or what an in-process step does as a person would read it), warnings and
/// impact. -WhatIf shows exactly this; the service's <c>Apply</c> takes the volume's lock, re-checks what the plan
/// assumed, and runs these steps in this order, recording each in <see cref="StorageContext.Journal"/>.
/// A value known only while running is shown as what it is (<c>&lt;measured minimum + margin&gt;</c>), never invented.
/// </summary>
public abstract record OperationPlan
{
    /// <summary>What the change is made to: a volume's path, a pool's name, a backup set's folder.</summary>
    public abstract string Target { get; }

    /// <summary>The operation as a short phrase ("Resize volume"), the caption of -WhatIf and -Confirm.</summary>
    public abstract string Action { get; }

    /// <summary>The steps Apply runs, in order (most plans take them from a dry run of Apply's own code).</summary>
    public virtual IReadOnlyList<string> Steps { get; init; } = [];

    /// <summary>What the operator should read before it runs (a pool that could not hold what it promises, writes that cannot be paused).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public PlanImpact Impact { get; init; } = PlanImpact.Medium;

    /// <summary>The question a High-impact plan asks (what is lost), or null for the plain action and steps.</summary>
    public virtual string? ConfirmationQuery => null;

    /// <summary>The action followed by its steps, as -WhatIf prints it.</summary>
    public string Describe() => Steps.Count == 0 ? Action : $"{Action}: {string.Join("; ", Steps)}";

    /// <summary>Marks a value that only the run itself can know, as a step shows it.</summary>
    public static string Measured(string what) => $"<{what}>";
}
