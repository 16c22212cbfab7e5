using SparseStorage.Core.Host;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// What a plan for one volume assumed: its size, format, filesystem and how it was attached. Apply compares it with
/// the volume read again under the lock, so that steps planned for one state never run on another.
/// </summary>
public sealed record PlannedVolumeState(long SizeBytes, VolumeFormat Format, FileSystemType FileSystem, VolumeAttachment Attachment)
{
    public static PlannedVolumeState Of(SparseVolume volume, VolumeAttachment attachment) =>
        new(volume.SizeBytes, volume.Format, volume.FileSystem, attachment);

    /// <summary>Throws ChangedSincePlanned, naming what changed, unless <paramref name="now"/> is the state planned for.</summary>
    public void RequireSame(SparseVolume volume, PlannedVolumeState now, string operation)
    {
        var change = now.SizeBytes != SizeBytes ? $"its size is now {ByteSize.Format(now.SizeBytes)}, not {ByteSize.Format(SizeBytes)}"
            : now.Format != Format ? $"its format is now {now.Format}, not {Format}"
            : now.FileSystem != FileSystem ? $"it now holds {now.FileSystem}, not {FileSystem}"
            : !SameAttachment(now.Attachment, Attachment) ? $"it is now {now.Attachment.Describe()}, and was {Attachment.Describe()}"
            : null;
        if (change is not null)
            throw new StorageOperationException("ChangedSincePlanned",
                $"{volume.Name} changed after the {operation} was planned: {change}. Nothing was done; run the command again to plan it for the volume as it is now.", volume);
    }

    private static bool SameAttachment(VolumeAttachment a, VolumeAttachment b) =>
        a.LoopDevice == b.LoopDevice && a.MountPoints.SequenceEqual(b.MountPoints) && a.ReadOnly == b.ReadOnly && a.MappedDevice == b.MappedDevice
        && a.FuseExport?.ExportPath == b.FuseExport?.ExportPath && a.FuseExport?.ProcessId == b.FuseExport?.ProcessId;
}
