using SparseStorage.Core.Host;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// The rule for copying a volume whose writes cannot be paused (attached without a mount, or mounted with a
/// filesystem that cannot freeze): refused unless the operator allows it by name, and then said once, as a warning of
/// the plan, so that every operation that copies a live volume says it the same way.
/// </summary>
public static class UnpausedWrites
{
    /// <summary>The switch that allows it, as the cmdlets name it.</summary>
    public const string AllowSwitch = "-AllowUnpausedWrites";

    /// <summary>
    /// The plan's warnings for a copy of <paramref name="volume"/> taken at <paramref name="consistency"/>; throws
    /// <see cref="VolumeInUseException"/> when writes cannot be paused and <paramref name="allowed"/> is not set.
    /// </summary>
    /// <param name="copy">What would hold the writes in flight, e.g. "the backup set" or "snapshot 'daily'".</param>
    /// <param name="operation">The operation as a verb phrase, e.g. "back it up".</param>
    public static IReadOnlyList<string> Check(SparseVolume volume, VolumeAttachment attachment, WriteConsistency consistency, bool allowed, string copy, string operation)
    {
        if (consistency != WriteConsistency.Unfrozen)
            return [];
        var why = attachment.IsMounted ? $"{volume.FileSystem} has no freeze" : "no filesystem of it is mounted here";
        if (!allowed)
            throw new VolumeInUseException(
                $"Volume '{volume.Name}' is {attachment.Describe()} and writable, and its writes cannot be paused ({why}); " +
                $"dismount it, or use {AllowSwitch} to {operation} anyway (the copy's filesystem may then need a check).", volume.Path);
        return [$"Volume '{volume.Name}' is {attachment.Describe()} and its writes cannot be paused ({why}); {copy} may hold a filesystem that needs a check."];
    }

    /// <summary>
    /// Runs <paramref name="copy"/> with the volume's writes paused when <paramref name="consistency"/> is Frozen:
    /// fsfreeze and its thaw are steps of the plan, and the thaw runs after a failure or cancellation too.
    /// </summary>
    public static void PausedAround(StepRunner steps, WriteConsistency consistency, VolumeAttachment attachment, Action copy)
    {
        if (consistency != WriteConsistency.Frozen)
        {
            copy();
            return;
        }
        var mountPoint = attachment.MountPoints[0];
        steps.Tool(FileSystemFreeze.FreezeCommand(mountPoint));
        try
        {
            copy();
        }
        finally
        {
            steps.UndoTool(FileSystemFreeze.ThawCommand(mountPoint));
        }
    }
}
