using SparseStorage.Core.Host;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Whether a volume may be read as the source of a copy or an archive while it is in use: a writable mount whose
/// filesystem can be frozen is paused for the read; a writable volume that cannot be paused (attached without a mount,
/// or a filesystem without freeze) is read only when the operator allows it (-AllowInUseSource), with a warning.
/// </summary>
public static class InUseSource
{
    public static WriteConsistency Check(SparseVolume volume, VolumeAttachment attachment, bool allowInUseSource, string operation)
    {
        var consistency = FileSystemFreeze.Assess(volume, attachment);
        if (consistency == WriteConsistency.Unfrozen && !allowInUseSource)
            throw new VolumeInUseException(
                $"Volume '{volume.Name}' is {attachment.Describe()} and writable, and its writes cannot be paused ({WhyNoPause(volume, attachment)}); " +
                $"dismount it, or use -AllowInUseSource to {operation} anyway (the filesystem in the result may then need a check).", volume.Path);
        return consistency;
    }

    /// <summary>The plan's warning for a source read while it may be written, or null.</summary>
    public static string? Warning(SparseVolume volume, VolumeAttachment attachment, WriteConsistency consistency) =>
        consistency == WriteConsistency.Unfrozen
            ? $"Volume '{volume.Name}' is {attachment.Describe()} and its writes cannot be paused ({WhyNoPause(volume, attachment)}); the filesystem in the result may need a check."
            : null;

    private static string WhyNoPause(SparseVolume volume, VolumeAttachment attachment) =>
        attachment.IsMounted ? $"{volume.FileSystem} has no freeze" : "no filesystem of it is mounted here";

    /// <summary>Runs <paramref name="read"/> with the filesystem at <paramref name="frozenMountPoint"/> frozen (none: as it is); it is thawed also after a failure.</summary>
    public static void ReadFrozen(StepRunner steps, string? frozenMountPoint, Action read)
    {
        if (frozenMountPoint is null)
        {
            read();
            return;
        }
        steps.Tool(FileSystemFreeze.FreezeCommand(frozenMountPoint));
        try
        {
            read();
        }
        finally
        {
            steps.UndoTool(FileSystemFreeze.ThawCommand(frozenMountPoint));
        }
    }

    /// <summary>The mount point a read of this volume freezes, or null; freezing needs root, which the plan checks.</summary>
    public static string? FrozenMountPoint(StorageContext context, VolumeAttachment attachment, WriteConsistency consistency, string operation)
    {
        if (consistency != WriteConsistency.Frozen)
            return null;
        context.RequireRoot($"Freezing {attachment.MountPoints[0]} to {operation}");
        return attachment.MountPoints[0];
    }
}
