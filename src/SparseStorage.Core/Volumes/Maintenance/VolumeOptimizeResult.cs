namespace SparseStorage.Core.Volumes.Maintenance;

/// <summary>What Optimize-SparseVolume gave back.</summary>
public sealed class VolumeOptimizeResult
{
    public required string Name { get; init; }
    public required string Path { get; init; }
    public long AllocatedBeforeBytes { get; init; }
    public long AllocatedAfterBytes { get; init; }
    /// <summary>Allocated bytes before minus after, measured on the image file (never negative).</summary>
    public long ReclaimedBytes => Math.Max(0, AllocatedBeforeBytes - AllocatedAfterBytes);
    /// <summary>What was done, in order (commands as typed, in-process steps described).</summary>
    public IReadOnlyList<string> Steps { get; init; } = [];
    /// <summary>Methods that did not apply to this volume, and why.</summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];
    public required SparseVolume Volume { get; init; }
}
