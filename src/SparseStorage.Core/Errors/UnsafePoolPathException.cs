namespace SparseStorage.Core.Errors;

/// <summary>
/// A pool directory that must never hold images: the root, a system directory, or a pseudo-filesystem. Registering it
/// is refused, and a pool registered before the rule existed is left alone: listed with a warning, never acted on.
/// </summary>
public sealed class UnsafePoolPathException(string message, object? target = null)
    : SparseStorageException("UnsafePoolPath", StorageErrorKind.PermissionDenied, message, target);
