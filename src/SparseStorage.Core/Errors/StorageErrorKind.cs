namespace SparseStorage.Core.Errors;

/// <summary>What kind of failure an exception reports; the cmdlet layer maps each kind to one ErrorCategory.</summary>
public enum StorageErrorKind
{
    InvalidArgument,
    ObjectNotFound,
    ResourceExists,
    ResourceBusy,
    PermissionDenied,
    NotInstalled,
    NotSupported,
    InvalidOperation,
    ToolFailed,
    OperationTimeout,
    LimitExceeded,
    ResourceUnavailable,
    /// <summary>Reading a file or device failed (EIO and the like) where Core knows it was reading.</summary>
    ReadError,
}
