namespace SparseStorage.Core.Configuration;

/// <summary>One change the SparseVolume resource makes, each done by one cmdlet.</summary>
public enum VolumeStepKind
{
    /// <summary>New-SparseVolume.</summary>
    Create,
    /// <summary>Dismount-SparseVolume (also locks an encrypted volume).</summary>
    Dismount,
    /// <summary>Resize-SparseVolume to a larger size.</summary>
    Grow,
    /// <summary>Resize-SparseVolume to a smaller size; planned only with AllowShrink.</summary>
    Shrink,
    /// <summary>Protect-Volume with the key file.</summary>
    Protect,
    /// <summary>Mount-SparseVolume (with the key file for an encrypted volume).</summary>
    Mount,
    /// <summary>Remove-SparseVolume.</summary>
    Remove,
}
