namespace SparseStorage.Core.Backups;

/// <summary>
/// An archive that is not one plain file: a device, FIFO, link, directory, a second member, or a name with a path in
/// it. Refused before anything is placed in a pool, since an archive may have been written by someone else.
/// </summary>
public sealed class UnsafeArchiveMemberException(string message, object? target = null)
    : SparseStorageException("UnsafeArchiveMember", StorageErrorKind.InvalidOperation, message, target);
