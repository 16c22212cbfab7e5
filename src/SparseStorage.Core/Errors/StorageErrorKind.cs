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
}
