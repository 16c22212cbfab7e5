namespace SparseStorage.Core.Pools;

/// <summary>A registered directory, or an RBD pool of a Ceph cluster, that volumes may live in, with its accounting.</summary>
public sealed class StoragePool
{
    public required string Name { get; init; }
    /// <summary>The pool's directory; for a Ceph pool "rbd:POOL[/NAMESPACE]".</summary>
    public required string Path { get; init; }
    public PoolKind Kind { get; init; } = PoolKind.Directory;
    /// <summary>The filesystem the pool directory lies on (ext4, xfs, btrfs, tmpfs, …); "ceph" for a Ceph pool.</summary>
    public string HostFileSystem { get; init; } = "";
    /// <summary>What the pool can hold; for a Ceph pool what its images store plus what it can still take at its replication (ceph df).</summary>
    public long CapacityBytes { get; init; }
    /// <summary>What can still be written; for a Ceph pool its MAX AVAIL in ceph df (replicas counted).</summary>
    public long FreeBytes { get; init; }
    /// <summary>What the pool has promised: the sum of its volumes' virtual sizes.</summary>
    public long ProvisionedBytes { get; init; }
    /// <summary>What the pool's volumes really occupy.</summary>
    public long AllocatedBytes { get; init; }
    /// <summary>Provisioned ÷ capacity: above 1 the pool has promised more than its disk holds.</summary>
    public double OvercommitRatio { get; init; }
    /// <summary>The ratio creating and growing volumes may not go beyond (Register-StoragePool -MaxOvercommit); null when unlimited.</summary>
    public double? MaxOvercommit { get; init; }
    public int VolumeCount { get; init; }
    /// <summary>
    /// What hidden work files of the module occupy in the pool: copies, restores, conversions and encryptions in
    /// progress, or left by one that was killed until a later call removes them. Not part of <see cref="AllocatedBytes"/>.
    /// </summary>
    public long PartialBytes { get; init; }

    public override string ToString() => Name;
}

/// <summary>Where a pool's volumes live: image files in a directory, or images of a Ceph RBD pool.</summary>
// Backed by long so that ConvertTo-Json writes the name, not a number (docs/json.md).
public enum PoolKind : long
{
    Directory,
    CephRbd,
}
