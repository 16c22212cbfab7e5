namespace SparseStorage.Core.Configuration;

/// <summary>The plan of the SparseVolume resource; see <see cref="VolumePlanner"/>.</summary>
public sealed class VolumePlan : DesiredStatePlan<VolumeStep>
{
    internal VolumePlan(string target, IReadOnlyList<string> differences, IReadOnlyList<string> conflicts, IReadOnlyList<VolumeStep> steps)
        : base("SparseVolume", target, differences, conflicts, steps)
    {
    }
}
