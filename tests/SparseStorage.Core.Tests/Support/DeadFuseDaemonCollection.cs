namespace SparseStorage.Core.Tests.Support;

/// <summary>
/// Tests that leave, even for a moment, a mounted loop device on a FUSE file whose daemon is gone (a killed or cancelled
/// qemu-storage-daemon). While one exists, mkfs.btrfs anywhere on the host fails, because it stats the backing file of
/// every mounted loop device. So these tests run alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DeadFuseDaemonCollection
{
    public const string Name = "Dead FUSE daemons";
}
