namespace SparseStorage.Core.Pools;

/// <summary>
/// A pool as stored in the configuration file: its name, its directory and, when the operator set one, the largest
/// overcommit ratio (provisioned ÷ capacity) that creating and growing volumes may reach. A Ceph pool has
/// <see cref="Ceph"/> set and its <see cref="Path"/> is "rbd:POOL[/NAMESPACE]", no directory.
/// </summary>
public sealed record PoolDefinition(string Name, string Path, double? MaxOvercommit = null, Ceph.CephPoolSettings? Ceph = null)
{
    public bool IsCeph => Ceph is not null;
}
