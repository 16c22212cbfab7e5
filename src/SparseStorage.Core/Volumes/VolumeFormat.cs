namespace SparseStorage.Core.Volumes;

/// <summary>The on-disk format of a volume's image file.</summary>
// Backed by long so that ConvertTo-Json writes the name, not a number (docs/json.md).
public enum VolumeFormat : long
{
    Raw,
    Qcow2,
    Luks,
}

/// <summary>How a new volume's space is reserved.</summary>
public enum Preallocation
{
    /// <summary>Thin: blocks are allocated when first written.</summary>
    Sparse,
    /// <summary>Every block is reserved at creation (fallocate), so writes cannot fail for lack of pool space.</summary>
    Full,
}
