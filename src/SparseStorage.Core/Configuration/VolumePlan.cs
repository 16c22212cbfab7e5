namespace SparseStorage.Core.Configuration;

/// <summary>The plan of the SparseVolume resource; see <see cref="VolumePlanner"/>. Removing or shrinking a volume is High impact.</summary>
public sealed record VolumePlan : DesiredStatePlan<VolumeStep>
{
    internal VolumePlan(string target, IReadOnlyList<string> differences, IReadOnlyList<string> conflicts, IReadOnlyList<VolumeStep> changes)
        : base("SparseVolume", target, differences, conflicts, changes)
    {
        Impact = Changes.Any(c => c.Kind is VolumeStepKind.Remove or VolumeStepKind.Shrink) ? Planning.PlanImpact.High : Planning.PlanImpact.Medium;
    }
}
