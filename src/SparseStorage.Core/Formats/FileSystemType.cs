namespace SparseStorage;

/// <summary>A filesystem a volume can hold. <see cref="Unknown"/>: data the module does not recognise.</summary>
public enum FileSystemType
{
    None,
    Ext2,
    Ext3,
    Ext4,
    Xfs,
    Btrfs,
    Swap,
    Unknown,
}
