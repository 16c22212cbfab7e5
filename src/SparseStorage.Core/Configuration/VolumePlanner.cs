using SparseStorage.Core.Volumes.Resize;

namespace SparseStorage.Core.Configuration;

/// <summary>
/// Compares a volume with its desired state and orders the steps that reconcile them: create, dismount, grow or
/// shrink, protect, mount, or dismount and remove. It never plans a reformat, a format conversion, a decryption or,
/// without AllowShrink, a shrink: those differences are conflicts that stop the whole Set before anything changes.
/// </summary>
public static class VolumePlanner
{
    /// <summary>
    /// A volume has the desired size when its virtual size is at least Size and less than Size + 1 MiB: new volumes
    /// are rounded up to whole 512-byte sectors and resized ones to whole MiB, so an exact match cannot be asked for.
    /// </summary>
    public const long SizeToleranceBytes = VolumeResizer.Alignment;

    public static bool SizeMatches(long observedBytes, long desiredBytes) =>
        observedBytes >= desiredBytes && observedBytes - desiredBytes < SizeToleranceBytes;

    /// <param name="volume">The volume as Get-SparseVolume reads it, or null when there is none.</param>
    public static VolumePlan Plan(VolumeDesiredState desired, SparseVolume? volume)
    {
        ArgumentNullException.ThrowIfNull(desired);
        var plan = new VolumePlanBuilder($"{desired.Pool}/{desired.Name}");
        var observed = volume is null ? null : ObservedVolume.From(volume);
        if (desired.Ensure == Ensure.Absent)
            PlanAbsent(observed, plan);
        else if (observed is null)
            PlanCreation(desired, plan);
        else
            PlanExisting(desired, observed, plan);
        return plan.Build();
    }

    private static void PlanAbsent(ObservedVolume? observed, VolumePlanBuilder plan)
    {
        if (observed is null)
            return;
        plan.Difference($"Ensure: the volume exists at {observed.Path}, wanted Absent.");
        if (observed.IsInUse)
            plan.Step(new VolumeStep(VolumeStepKind.Dismount, $"dismount {observed.Name}"));
        plan.Step(new VolumeStep(VolumeStepKind.Remove, $"remove {observed.Path}"));
    }

    private static void PlanCreation(VolumeDesiredState desired, VolumePlanBuilder plan)
    {
        var size = desired.Size!.Value;
        plan.Difference("Ensure: the volume does not exist, wanted Present.");
        plan.Step(new VolumeStep(VolumeStepKind.Create,
            $"create {desired.Name} in pool {desired.Pool}: {desired.Format ?? VolumeFormat.Raw}, {size}, filesystem {desired.FileSystem ?? FileSystemType.None}",
            SizeBytes: size.Bytes));
        if (desired.Encrypted)
            plan.Step(new VolumeStep(VolumeStepKind.Protect, $"encrypt {desired.Name} with the key file", UsesKeyFile: true));
        if (desired.MountPoint is not null)
            plan.Step(MountStep(desired, desired.MountPoint));
    }

    private static void PlanExisting(VolumeDesiredState desired, ObservedVolume observed, VolumePlanBuilder plan)
    {
        if (observed.IsBroken)
            plan.Conflict($"{observed.Name} has a FUSE export whose daemon is gone; run Dismount-SparseVolume on it first.");
        CompareFormat(desired, observed, plan);
        CompareEncryption(desired, observed, plan);
        CompareContent(desired, observed, plan);
        CompareSize(desired, observed, plan);
        CompareMount(desired, observed, plan);
        TakeDownFirstIfNeeded(desired, observed, plan);
    }

    private static void CompareFormat(VolumeDesiredState desired, ObservedVolume observed, VolumePlanBuilder plan)
    {
        if (desired.Format is { } format && format != observed.Format)
            plan.Conflict($"{observed.Name} is {observed.Format}, not {format}; converting a volume's format is not done by DSC (remove the volume or change Format).");
    }

    private static void CompareEncryption(VolumeDesiredState desired, ObservedVolume observed, VolumePlanBuilder plan)
    {
        if (desired.Encrypted && !observed.IsEncrypted)
        {
            plan.Difference("Encrypted: the volume is not encrypted, wanted encrypted.");
            plan.Step(new VolumeStep(VolumeStepKind.Protect, $"encrypt {observed.Name} with the key file", UsesKeyFile: true));
        }
        else if (!desired.Encrypted && observed.IsEncrypted)
            plan.Conflict($"{observed.Name} is encrypted and Encrypted is $false; DSC does not decrypt volumes (run Unprotect-Volume yourself, or set Encrypted = $true).");
    }

    /// <summary>Filesystem and label; a locked encrypted volume hides both, so they are compared once it is unlocked or mounted.</summary>
    private static void CompareContent(VolumeDesiredState desired, ObservedVolume observed, VolumePlanBuilder plan)
    {
        if (!observed.ContentIsReadable)
            return;
        if (desired.FileSystem is { } fileSystem && fileSystem != observed.FileSystem)
            plan.Conflict($"{observed.Name} holds {Describe(observed.FileSystem)}, not {fileSystem}; DSC never reformats a volume, since its data would be lost (remove the volume or change FileSystem).");
        if (desired.Label is { } label && label != observed.Label)
            plan.Conflict($"{observed.Name} has the label '{observed.Label}', not '{label}'; labels are set only when a volume is created.");
    }

    private static string Describe(FileSystemType fileSystem) => fileSystem switch
    {
        FileSystemType.None => "no filesystem",
        FileSystemType.Unknown => "data the module does not recognise",
        _ => fileSystem.ToString(),
    };

    private static void CompareSize(VolumeDesiredState desired, ObservedVolume observed, VolumePlanBuilder plan)
    {
        var wanted = desired.Size!.Value.Bytes;
        if (SizeMatches(observed.SizeBytes, wanted))
            return;
        plan.Difference($"Size: {ByteSize.Format(observed.SizeBytes)}, wanted {ByteSize.Format(wanted)} (at most {ByteSize.Format(SizeToleranceBytes)} more).");
        if (observed.IsEncrypted)
            plan.Conflict($"{observed.Name} is encrypted, and encrypted volumes cannot be resized yet.");
        else if (observed.SizeBytes < wanted)
            plan.Step(new VolumeStep(VolumeStepKind.Grow, $"grow {observed.Name} from {ByteSize.Format(observed.SizeBytes)} to {ByteSize.Format(wanted)}", SizeBytes: wanted));
        else
            PlanShrink(desired, observed, wanted, plan);
    }

    private static void PlanShrink(VolumeDesiredState desired, ObservedVolume observed, long wanted, VolumePlanBuilder plan)
    {
        if (!desired.AllowShrink)
            plan.Conflict($"{observed.Name} is {ByteSize.Format(observed.SizeBytes)}, larger than Size {ByteSize.Format(wanted)}, and DSC only grows volumes unless AllowShrink = $true.");
        else if (observed.FileSystem == FileSystemType.Xfs)
            plan.Conflict($"{observed.Name} holds an xfs filesystem, which cannot shrink.");
        else
            plan.Step(new VolumeStep(VolumeStepKind.Shrink, $"shrink {observed.Name} from {ByteSize.Format(observed.SizeBytes)} to {ByteSize.Format(wanted)}", SizeBytes: wanted));
    }

    private static void CompareMount(VolumeDesiredState desired, ObservedVolume observed, VolumePlanBuilder plan)
    {
        if (desired.MountPoint is not { } mountPoint)
            return;
        if (observed.MountPoint is null)
            plan.Difference($"MountPoint: not mounted, wanted {mountPoint}.");
        else if (!ConfigurationPaths.AreSame(observed.MountPoint, mountPoint))
        {
            plan.Difference($"MountPoint: mounted at {observed.MountPoint}, wanted {mountPoint}.");
            plan.Step(new VolumeStep(VolumeStepKind.Dismount, $"dismount {observed.Name} from {observed.MountPoint}"));
        }
        else
            return;
        plan.Step(MountStep(desired, mountPoint));
    }

    /// <summary>
    /// Protecting needs a volume nobody uses, and ext2/3/4 shrink only unmounted; such a volume is dismounted first and
    /// mounted again afterwards where it was (or where MountPoint says).
    /// </summary>
    private static void TakeDownFirstIfNeeded(VolumeDesiredState desired, ObservedVolume observed, VolumePlanBuilder plan)
    {
        var protect = plan.Has(VolumeStepKind.Protect) && observed.IsInUse;
        var shrink = plan.Has(VolumeStepKind.Shrink) && observed.IsInUse && observed.FileSystem != FileSystemType.Btrfs;
        if (!protect && !shrink)
            return;
        plan.Step(new VolumeStep(VolumeStepKind.Dismount, $"dismount {observed.Name} before {(protect ? "encrypting" : "shrinking")} it"));
        if ((desired.MountPoint ?? observed.MountPoint) is { } mountPoint)
            plan.Step(MountStep(desired, mountPoint));
    }

    private static VolumeStep MountStep(VolumeDesiredState desired, string mountPoint) =>
        new(VolumeStepKind.Mount, $"mount {desired.Name} at {mountPoint}", MountPoint: mountPoint, UsesKeyFile: desired.Encrypted);
}
