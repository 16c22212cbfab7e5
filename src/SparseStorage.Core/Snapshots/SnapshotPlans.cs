using SparseStorage.Core.Planning;

namespace SparseStorage.Core.Snapshots;

public sealed record NewSnapshotRequest(SparseVolume Volume, string Name)
{
    /// <summary>Snapshot a volume whose writes cannot be paused (attached without a mount); the plan then warns.</summary>
    public bool AllowUnpausedWrites { get; init; }
}

/// <summary>A snapshot to take: of which volume, under which name, and how writes are kept out meanwhile.</summary>
public sealed record NewSnapshotPlan(SparseVolume Volume, string Name, WriteConsistency Consistency) : OperationPlan
{
    public bool AllowUnpausedWrites { get; init; }
    public override string Target => Volume.Path;
    public override string Action => $"Create snapshot '{Name}'";
}

/// <summary>A volume brought back to one of its snapshots: everything written since is lost.</summary>
public sealed record RestoreSnapshotPlan(SparseVolume Volume, VolumeSnapshot Snapshot) : OperationPlan
{
    public override string Target => Volume.Path;
    public override string Action => $"Restore snapshot '{Snapshot.Name}' of {Snapshot.CreatedUtc:u}, losing what was written since";

    public override string ConfirmationQuery =>
        $"Volume '{Volume.Name}' goes back to snapshot '{Snapshot.Name}' of {Snapshot.CreatedUtc:u}; everything written to it since is lost. Restore it?";
}

/// <summary>One snapshot deleted; the volume itself does not change, but can no longer go back to that point.</summary>
public sealed record RemoveSnapshotPlan(SparseVolume Volume, VolumeSnapshot Snapshot) : OperationPlan
{
    public override string Target => Volume.Path;
    public override string Action => $"Remove snapshot '{Snapshot.Name}' ({Snapshot.Kind}, {Snapshot.CreatedUtc:u})";

    public override string ConfirmationQuery =>
        $"Snapshot '{Snapshot.Name}' of volume '{Volume.Name}' is deleted; the volume can no longer go back to {Snapshot.CreatedUtc:u}. Remove it?";
}

public sealed record RestoreSnapshotRequest(SparseVolume Volume, string Name);

public sealed record RemoveSnapshotRequest(SparseVolume Volume, string Name);
