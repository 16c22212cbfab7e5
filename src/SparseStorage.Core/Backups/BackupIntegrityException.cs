namespace SparseStorage.Core.Backups;

/// <summary>
/// A backup set the operator's key does not vouch for (BackupSignatureInvalid, BackupNotSigned), or whose record of
/// its volume would lead a restore out of that volume's pool (BackupSourceOutsidePool).
/// </summary>
public sealed class BackupIntegrityException(string errorId, string message, object? target = null)
    : SparseStorageException(errorId, StorageErrorKind.PermissionDenied, message, target);
