namespace SparseStorage.Core.Configuration;

/// <summary>Collects what <see cref="VolumePlanner"/> finds; steps are put in their fixed order when the plan is built.</summary>
internal sealed class VolumePlanBuilder(string target)
{
    private static readonly VolumeStepKind[] Order =
    [
        VolumeStepKind.Create, VolumeStepKind.Dismount, VolumeStepKind.Grow, VolumeStepKind.Shrink,
        VolumeStepKind.Protect, VolumeStepKind.Mount, VolumeStepKind.Remove,
    ];

    private readonly List<string> differences = [];
    private readonly List<string> conflicts = [];
    private readonly List<VolumeStep> steps = [];

    public void Difference(string text) => differences.Add(text);

    public void Conflict(string text) => conflicts.Add(text);

    public void Step(VolumeStep step)
    {
        if (!Has(step.Kind))
            steps.Add(step);
    }

    public bool Has(VolumeStepKind kind) => steps.Any(s => s.Kind == kind);

    public VolumePlan Build() =>
        new(target, differences, conflicts, steps.OrderBy(s => Array.IndexOf(Order, s.Kind)).ToList());
}
