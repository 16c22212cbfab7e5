namespace SparseStorage.Core.Snapshots;

/// <summary>Where a snapshot's data lives.</summary>
// Backed by long so that ConvertTo-Json writes the name, not a number (docs/json.md).
public enum SnapshotKind : long
{
    /// <summary>An internal snapshot inside the qcow2 image (qemu-img snapshot).</summary>
    Qcow2Internal,
    /// <summary>A raw volume's copy that shares blocks with it (FICLONE on an xfs or btrfs pool): instant, costs only what changes later.</summary>
    Reflink,
    /// <summary>A raw volume's copy of its allocated extents, on a pool whose filesystem cannot share blocks.</summary>
    SparseCopy,
    /// <summary>A snapshot of an image of a Ceph pool (rbd snap create), kept by the cluster: instant, costs only what changes later.</summary>
    RbdSnapshot,
}

/// <summary>A point in time of a volume. Pipes into Restore-VolumeSnapshot and Remove-VolumeSnapshot by VolumePath and Name.</summary>
public sealed class VolumeSnapshot
{
    /// <summary>The volume's name.</summary>
    public required string Volume { get; init; }
    /// <summary>The volume's image file.</summary>
    public required string VolumePath { get; init; }
    public string? Pool { get; init; }
    /// <summary>The snapshot's name, unique per volume.</summary>
    public required string Name { get; init; }
    /// <summary>qcow2's snapshot id; for raw snapshots a sequence number kept in the metadata file; for RBD snapshots the cluster's snapshot id.</summary>
    public required string Id { get; init; }
    public SnapshotKind Kind { get; init; }
    public DateTime CreatedUtc { get; init; }
    /// <summary>The volume's virtual size when the snapshot was taken; a restore brings this size back.</summary>
    public long SizeBytes { get; init; }
    /// <summary>Saved virtual-machine state in a qcow2 snapshot (0 for disk-only snapshots).</summary>
    public long VmStateSizeBytes { get; init; }
    /// <summary>The copy holding a raw snapshot's data (under the pool's hidden .snapshots folder); null for qcow2.</summary>
    public string? SnapshotPath { get; init; }

    public static VolumeSnapshot Of(SparseVolume volume, string name, string id, SnapshotKind kind, DateTime createdUtc, long sizeBytes,
        long vmStateSizeBytes = 0, string? snapshotPath = null) => new()
    {
        Volume = volume.Name, VolumePath = volume.Path, Pool = volume.Pool, Name = name, Id = id, Kind = kind,
        CreatedUtc = createdUtc, SizeBytes = sizeBytes, VmStateSizeBytes = vmStateSizeBytes, SnapshotPath = snapshotPath,
    };

    public override string ToString() => $"{Volume}@{Name}";
}
