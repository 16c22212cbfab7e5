namespace SparseStorage.Core.Errors;

/// <summary>Base of every failure Core reports. <see cref="ErrorId"/> is stable and becomes the ErrorRecord id.</summary>
public class SparseStorageException : Exception
{
    public SparseStorageException(string errorId, StorageErrorKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    public string ErrorId { get; }
    public StorageErrorKind Kind { get; }
    public object? Target { get; }
}

public sealed class InvalidStorageArgumentException(string errorId, string message, object? target = null)
    : SparseStorageException(errorId, StorageErrorKind.InvalidArgument, message, target);

public sealed class VolumeNotFoundException(string message, object? target = null)
    : SparseStorageException("VolumeNotFound", StorageErrorKind.ObjectNotFound, message, target);

public sealed class PoolNotFoundException(string message, object? target = null)
    : SparseStorageException("PoolNotFound", StorageErrorKind.ObjectNotFound, message, target);

public sealed class ResourceExistsException(string errorId, string message, object? target = null)
    : SparseStorageException(errorId, StorageErrorKind.ResourceExists, message, target);

/// <summary>The volume is mounted, attached to a loop device or exported; the message names where.</summary>
public sealed class VolumeInUseException(string message, object? target = null)
    : SparseStorageException("VolumeInUse", StorageErrorKind.ResourceBusy, message, target);

public sealed class VolumeLockedException(string message, object? target = null)
    : SparseStorageException("VolumeLocked", StorageErrorKind.ResourceBusy, message, target);

public sealed class PathOutsidePoolException(string message, object? target = null)
    : SparseStorageException("PathOutsidePool", StorageErrorKind.PermissionDenied, message, target);

public sealed class NotRootException(string operation)
    : SparseStorageException("RootRequired", StorageErrorKind.PermissionDenied,
        $"{operation} needs root (loop devices and mounts are privileged); run pwsh as root or with sudo.");

public sealed class HostNotCapableException(string errorId, string message)
    : SparseStorageException(errorId, StorageErrorKind.NotSupported, message);

public sealed class StorageOperationException(string errorId, string message, object? target = null, Exception? inner = null)
    : SparseStorageException(errorId, StorageErrorKind.InvalidOperation, message, target, inner);

/// <summary>None of the given keys opens the volume. The message names the keys by kind and file, never by content.</summary>
public sealed class WrongKeyException(string message, object? target = null)
    : SparseStorageException("WrongKey", StorageErrorKind.PermissionDenied, message, target);

public sealed class StorageObjectNotFoundException(string errorId, string message, object? target = null)
    : SparseStorageException(errorId, StorageErrorKind.ObjectNotFound, message, target);

/// <summary>
/// A file in a pool that the module refuses to treat as a volume: a symbolic link, a device, a FIFO, a socket, a
/// file with more than one hard link, or one that changed between its check and its use.
/// </summary>
public sealed class UnsafeVolumeFileException(string message, object? target = null)
    : SparseStorageException("UnsafeVolumeFile", StorageErrorKind.PermissionDenied, message, target);

/// <summary>A file an image refers to (qcow2 backing file, external data file) lies outside the image's pool.</summary>
public sealed class ImageReferenceOutsidePoolException(string message, object? target = null)
    : SparseStorageException("ImageReferenceOutsidePool", StorageErrorKind.PermissionDenied, message, target);

/// <summary>A size larger than the largest file the pool's filesystem can hold (EFBIG); the message names both.</summary>
public sealed class SizeBeyondHostFileLimitException(string message, object? target = null)
    : SparseStorageException("SizeBeyondHostFileLimit", StorageErrorKind.LimitExceeded, message, target);

/// <summary>The pool's filesystem has no space left (ENOSPC, EDQUOT); the message names the path and what was needed.</summary>
public sealed class PoolFullException(string message, object? target = null, Exception? inner = null)
    : SparseStorageException("PoolFull", StorageErrorKind.ResourceUnavailable, message, target, inner);

/// <summary>The change would promise more than the pool's -MaxOvercommit allows; the message names the pool, the ratio and the limit.</summary>
public sealed class OvercommitLimitExceededException(string message, object? target = null)
    : SparseStorageException("OvercommitLimitExceeded", StorageErrorKind.LimitExceeded, message, target);

/// <summary>
/// Reading a file failed in a way .NET reports only as an IOException (EIO, EINVAL from a device or pseudo-file, a
/// vanished disk): thrown where Core knows it was reading, so the error says "read" and names the file.
/// </summary>
public sealed class StorageReadException(string path, IOException inner)
    : SparseStorageException("ReadFailed", StorageErrorKind.ReadError, $"Reading {path} failed: {inner.Message}", path, inner);
