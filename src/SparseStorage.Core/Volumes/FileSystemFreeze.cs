using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Pauses writes to a mounted volume (fsfreeze) while a snapshot or copy is taken, and thaws it on dispose —
/// also after a failure or cancellation, so a filesystem is never left frozen.
/// </summary>
public sealed class FileSystemFreeze : IDisposable
{
    private readonly IProcessRunner runner;
    private readonly string? frozenMountPoint;

    private FileSystemFreeze(IProcessRunner runner, string? frozenMountPoint, WriteConsistency consistency)
    {
        this.runner = runner;
        this.frozenMountPoint = frozenMountPoint;
        Consistency = consistency;
    }

    public WriteConsistency Consistency { get; }

    /// <summary>What a freeze of this volume can achieve, without changing anything.</summary>
    public static WriteConsistency Assess(SparseVolume volume, VolumeAttachment attachment) =>
        !attachment.IsAttached ? WriteConsistency.Detached
        : attachment.ReadOnly ? WriteConsistency.ReadOnly
        : attachment.IsMounted && FileSystemRules.CanFreeze(volume.FileSystem) ? WriteConsistency.Frozen
        : WriteConsistency.Unfrozen;

    public static ToolCommand FreezeCommand(string mountPoint) => new("fsfreeze", "--freeze", mountPoint);
    public static ToolCommand ThawCommand(string mountPoint) => new("fsfreeze", "--unfreeze", mountPoint);

    /// <summary>
    /// Freezes the volume's filesystem if it is mounted read-write. A volume that is written to but cannot be
    /// frozen (attached without a mount, or a filesystem without freeze support) is refused unless
    /// <paramref name="allowUnfrozen"/>.
    /// </summary>
    public static FileSystemFreeze Begin(StorageContext context, SparseVolume volume, VolumeAttachment attachment, bool allowUnfrozen, string operation, CancellationToken cancellationToken)
    {
        var consistency = Assess(volume, attachment);
        if (consistency == WriteConsistency.Unfrozen && !allowUnfrozen)
            throw new VolumeInUseException(
                $"Volume '{volume.Name}' is {attachment.Describe()} and writable, and its writes cannot be paused ({(attachment.IsMounted ? $"{volume.FileSystem} has no freeze" : "no filesystem of it is mounted here")}); " +
                $"dismount it, or use -Force to {operation} anyway (the copy's filesystem may then need a check).", volume.Path);
        if (consistency != WriteConsistency.Frozen)
            return new FileSystemFreeze(context.Runner, null, consistency);
        context.RequireRoot($"Freezing {attachment.MountPoints[0]} to {operation}");
        var mountPoint = attachment.MountPoints[0];
        context.Runner.RunChecked(FreezeCommand(mountPoint), cancellationToken);
        return new FileSystemFreeze(context.Runner, mountPoint, consistency);
    }

    public void Dispose()
    {
        if (frozenMountPoint is not null)
            runner.RunChecked(ThawCommand(frozenMountPoint), CancellationToken.None);
    }
}
