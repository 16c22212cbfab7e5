using SparseStorage.Core.Host;

namespace SparseStorage.Core.Volumes.Resize;

/// <summary>What each filesystem and state allows, checked before anything changes.</summary>
internal static class ResizeRules
{
    public static void RequireResizable(SparseVolume volume, VolumeAttachment attachment)
    {
        if (volume.Encryption != "None")
            throw new ResizeNotSupportedException("ResizeEncryptedVolume", $"{volume.Name} is encrypted ({volume.Encryption}); resizing encrypted volumes is not supported yet.", volume);
        if (volume.IsBroken)
            throw new VolumeInUseException($"{volume.Name} has a FUSE export whose daemon is gone; run Dismount-SparseVolume first.", volume);
        if (attachment.IsAttached && attachment.ReadOnly)
            throw new VolumeInUseException($"{volume.Name} is {attachment.Describe()} read-only; dismount it (or mount it read-write) before resizing.", volume);
        if (volume.FileSystem == FileSystemType.Swap && attachment.IsAttached)
            throw new VolumeInUseException($"{volume.Name} is swap space {attachment.Describe()}; swapoff and dismount it before resizing.", volume);
    }

    /// <summary>Shrinks that the filesystem or the volume's state rules out, named in the error.</summary>
    public static void RequireShrinkable(SparseVolume volume, VolumeAttachment attachment)
    {
        if (volume.FileSystem == FileSystemType.Xfs)
            throw new ResizeNotSupportedException("XfsCannotShrink", $"{volume.Name} holds an xfs filesystem, and xfs cannot shrink; only growing is possible.", volume);
        if (volume.FileSystem == FileSystemType.Unknown)
            throw new ResizeNotSupportedException("UnknownFileSystem", $"{volume.Name} holds data the module does not recognise, so it cannot tell what a shrink would cut; refused.", volume);
        if (attachment.IsMounted && volume.FileSystem != FileSystemType.Btrfs)
            throw new ResizeNotSupportedException("ShrinkWhileMounted",
                $"{volume.Name} is mounted at {string.Join(", ", attachment.MountPoints)}, and {volume.FileSystem} cannot shrink while mounted; dismount it first.", volume);
    }

    /// <summary>After a grow whose filesystem step failed, the image is larger than the filesystem: a resize to the same size finishes it.</summary>
    public static bool FileSystemLags(SparseVolume volume) =>
        volume.FileSystem is FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4 or FileSystemType.Xfs or FileSystemType.Btrfs
        && volume.FileSystemSizeBytes > 0 && volume.FileSystemSizeBytes < volume.SizeBytes - VolumeResizer.Alignment;

    /// <summary>Volumes without a filesystem to measure shrink only to an explicit size.</summary>
    public static long TargetWithoutFileSystem(SparseVolume volume, ResizeRequest request) =>
        request.ToMinimumSize
            ? throw new ResizeNotSupportedException("NoFileSystemToMeasure", $"{volume.Name} has {(volume.FileSystem == FileSystemType.Swap ? "swap space" : "no filesystem")}, so it has no minimum size; give -Size.", volume)
            : VolumeResizer.TargetOf(volume, request);
}
