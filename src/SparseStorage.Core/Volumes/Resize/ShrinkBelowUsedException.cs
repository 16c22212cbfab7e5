namespace SparseStorage.Core.Volumes.Resize;

/// <summary>A shrink would cut into space the filesystem uses (plus the safety margin).</summary>
public sealed class ShrinkBelowUsedException(string message, object? target = null)
    : SparseStorageException("ShrinkBelowUsedSpace", StorageErrorKind.InvalidOperation, message, target);

/// <summary>The filesystem cannot do this resize at all (xfs shrink) or not in this state (ext4 shrink while mounted).</summary>
public sealed class ResizeNotSupportedException(string errorId, string message, object? target = null)
    : SparseStorageException(errorId, StorageErrorKind.InvalidOperation, message, target);
