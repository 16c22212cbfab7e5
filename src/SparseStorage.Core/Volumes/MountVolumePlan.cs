using SparseStorage.Core.Host;
using SparseStorage.Core.Planning;

namespace SparseStorage.Core.Volumes;

/// <summary>What Mount-SparseVolume was asked for.</summary>
public sealed record MountVolumeRequest(SparseVolume Volume, string MountPoint, bool ReadOnly = false, bool AllowDiscards = false);

/// <summary>
/// A checked mount: the volume as read when planning, the mount point, and each step (create the mount point, start the
/// FUSE export or unlock, attach the loop device, mount). The loop device is known only once attached.
/// </summary>
public sealed record MountVolumePlan(SparseVolume Volume, string MountPoint, bool ReadOnly, bool AllowDiscards) : OperationPlan
{
    public override string Target => Volume.Path;
    public override string Action => "Mount volume";

    /// <summary>Whether a key is needed: the volume is encrypted and locked, and this mount unlocks it.</summary>
    public bool NeedsKey => Encryption.VolumeUnlocker.NeedsKey(Volume);

    /// <summary>Whether the mount point does not exist yet and is created (and removed again if the mount fails).</summary>
    public bool CreatesMountPoint { get; init; }

    /// <summary>What is attached to the volume when planning: an encrypted volume may already be unlocked.</summary>
    internal VolumeAttachment Attachment { get; init; } = VolumeAttachment.Detached;

}

/// <summary>
/// A checked dismount: each mount of the volume unmounted, its loop device detached, its FUSE daemon stopped. No steps
/// when the volume is neither mounted nor attached.
/// </summary>
/// <summary>What Dismount-SparseVolume was asked for.</summary>
public sealed record DismountVolumeRequest(SparseVolume Volume);

public sealed record DismountVolumePlan(SparseVolume Volume) : OperationPlan
{
    public override string Target => Volume.Path;
    public override string Action => "Dismount volume";

    internal VolumeAttachment Attachment { get; init; } = VolumeAttachment.Detached;

}
