using System.Management.Automation;
using SparseStorage.Core.Processes;

namespace SparseStorage.PowerShell.Errors;

/// <summary>The one place where Core's failures become ErrorRecords: an id, a category and the real target.</summary>
internal static class ErrorMapping
{
    public static ErrorRecord ToRecord(Exception exception, object? target = null) => exception switch
    {
        SparseStorageException e => new ErrorRecord(e, e.ErrorId, CategoryOf(e.Kind), e.Target ?? target),
        OperationCanceledException e => new ErrorRecord(e, "OperationStopped", ErrorCategory.OperationStopped, target),
        PSInvalidOperationException e => new ErrorRecord(e, "ConfirmationUnavailable", ErrorCategory.InvalidOperation, target),
        // PowerShell's own failures (ItemNotFound, DriveNotFound, PSArgument) already carry the record it would write.
        IContainsErrorRecord { ErrorRecord: { } record } => new ErrorRecord(record, exception),
        InvalidDataException e => new ErrorRecord(e, "InvalidVolumeImage", ErrorCategory.InvalidData, target),
        UnauthorizedAccessException e => new ErrorRecord(e, "AccessDenied", ErrorCategory.PermissionDenied, target),
        IOException e => FromIo(e, target),
        _ => new ErrorRecord(exception, "UnexpectedError", ErrorCategory.NotSpecified, target),
    };

    /// <summary>
    /// An IOException Core did not wrap: the category says what happened as far as its type and errno tell. Reads Core
    /// knows it made arrive as StorageReadException (ReadError); a bare one is not assumed to be a write.
    /// </summary>
    private static ErrorRecord FromIo(IOException exception, object? target) => exception switch
    {
        FileNotFoundException e => new ErrorRecord(e, "FileNotFound", ErrorCategory.ObjectNotFound, target ?? e.FileName),
        DirectoryNotFoundException e => new ErrorRecord(e, "DirectoryNotFound", ErrorCategory.ObjectNotFound, target),
        PathTooLongException e => new ErrorRecord(e, "PathTooLong", ErrorCategory.InvalidArgument, target),
        EndOfStreamException e => new ErrorRecord(e, "UnexpectedEndOfFile", ErrorCategory.InvalidData, target),
        _ when IoFailure.IsOutOfSpace(exception) => new ErrorRecord(exception, "NoSpaceLeft", ErrorCategory.ResourceUnavailable, target),
        _ when IoFailure.IsReadOnlyFileSystem(exception) => new ErrorRecord(exception, "ReadOnlyFileSystem", ErrorCategory.WriteError, target),
        _ when IoFailure.IsBusy(exception) => new ErrorRecord(exception, "ResourceBusy", ErrorCategory.ResourceBusy, target),
        _ when IoFailure.IsExisting(exception) => new ErrorRecord(exception, "AlreadyExists", ErrorCategory.ResourceExists, target),
        _ => new ErrorRecord(exception, "IOError", ErrorCategory.NotSpecified, target),
    };

    /// <summary>Failures that no later pipeline item can avoid (a missing tool, a host without the feature, not root) stop the command.</summary>
    public static bool IsTerminating(Exception exception) =>
        exception is MissingToolException or NotRootException or HostNotCapableException or OperationCanceledException;

    public static ErrorCategory CategoryOf(StorageErrorKind kind) => kind switch
    {
        StorageErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        StorageErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
        StorageErrorKind.ResourceExists => ErrorCategory.ResourceExists,
        StorageErrorKind.ResourceBusy => ErrorCategory.ResourceBusy,
        StorageErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
        StorageErrorKind.NotInstalled => ErrorCategory.NotInstalled,
        StorageErrorKind.NotSupported => ErrorCategory.NotEnabled,
        StorageErrorKind.InvalidOperation => ErrorCategory.InvalidOperation,
        StorageErrorKind.ToolFailed => ErrorCategory.FromStdErr,
        StorageErrorKind.OperationTimeout => ErrorCategory.OperationTimeout,
        StorageErrorKind.LimitExceeded => ErrorCategory.LimitsExceeded,
        StorageErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        StorageErrorKind.ReadError => ErrorCategory.ReadError,
        _ => ErrorCategory.NotSpecified,
    };
}
