using SparseStorage.Core.Planning;

namespace SparseStorage.Core.Volumes.Maintenance;

/// <summary>What Optimize-SparseVolume will do to one volume: the steps of a dry run, and the methods that do not apply.</summary>
public sealed record OptimizePlan : OperationPlan
{
    internal OptimizePlan(SparseVolume volume, PlannedVolumeState state, IReadOnlyList<string> steps, IReadOnlyList<string> skipped)
    {
        Volume = volume;
        State = state;
        Steps = steps;
        Skipped = skipped;
    }

    public SparseVolume Volume { get; }

    /// <summary>The volume's state the steps were planned for; Apply refuses to run on another.</summary>
    public PlannedVolumeState State { get; }

    /// <summary>Methods that will not be used on this volume, and why.</summary>
    public IReadOnlyList<string> Skipped { get; }

    public override string Target => Volume.Path;
    public override string Action => "Optimize volume";
}
