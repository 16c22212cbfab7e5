using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Pausing writes to a mounted volume (fsfreeze) while a snapshot, copy or backup is taken: whether it can be done,
/// and the commands the plans of those operations run (the thaw also after a failure or cancellation).
/// </summary>
public static class FileSystemFreeze
{
    /// <summary>What a freeze of this volume can achieve, without changing anything.</summary>
    public static WriteConsistency Assess(SparseVolume volume, VolumeAttachment attachment) =>
        !attachment.IsAttached ? WriteConsistency.Detached
        : attachment.ReadOnly ? WriteConsistency.ReadOnly
        : attachment.IsMounted && FileSystemRules.CanFreeze(volume.FileSystem) ? WriteConsistency.Frozen
        : WriteConsistency.Unfrozen;

    public static ToolCommand FreezeCommand(string mountPoint) => new("fsfreeze", "--freeze", mountPoint);
    public static ToolCommand ThawCommand(string mountPoint) => new("fsfreeze", "--unfreeze", mountPoint);
}
