namespace SparseStorage.Core.Formats;

/// <summary>A filesystem a volume can hold. <see cref="Unknown"/>: data the module does not recognise.</summary>
// Backed by long so that ConvertTo-Json writes the name, not a number (docs/json.md).
public enum FileSystemType : long
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
