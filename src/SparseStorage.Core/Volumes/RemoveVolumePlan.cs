using SparseStorage.Core.Planning;

namespace SparseStorage.Core.Volumes;

/// <summary>What Remove-SparseVolume was asked for: the volume (by its path) and whether its data is wiped first.</summary>
public sealed record RemoveVolumeRequest(SparseVolume Volume, bool Wipe);

/// <summary>
/// A checked removal: the volume as read when planning and each deletion or wipe in order (raw snapshots, backup
/// change references, the data or the key slots, the image). Always High impact: nothing of it can be undone.
/// </summary>
public sealed record RemoveVolumePlan(SparseVolume Volume, bool Wipe) : OperationPlan
{
    public override string Target => Volume.Path;
    public override string Action => Wipe ? "Wipe and remove volume" : "Remove volume";

    /// <summary>The steps as the remover's dry run recorded them.</summary>
}
