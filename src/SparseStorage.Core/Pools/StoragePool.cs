namespace SparseStorage.Core.Pools;

/// <summary>A registered directory volumes may live in, with its accounting.</summary>
public sealed class StoragePool
{
    public required string Name { get; init; }
    public required string Path { get; init; }
    /// <summary>The filesystem the pool directory lies on (ext4, xfs, btrfs, tmpfs, …).</summary>
    public string HostFileSystem { get; init; } = "";
    public long CapacityBytes { get; init; }
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
