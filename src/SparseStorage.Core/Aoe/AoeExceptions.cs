namespace SparseStorage.Core.Aoe;

/// <summary>The network interface an AoE operation names is missing or unusable.</summary>
public sealed class AoeInterfaceException(string errorId, string message, string interfaceName)
    : SparseStorageException(errorId, errorId == "AoeInterfaceNotFound" ? StorageErrorKind.ObjectNotFound : StorageErrorKind.InvalidOperation, message, interfaceName)
{
    public static AoeInterfaceException Missing(string interfaceName) =>
        new("AoeInterfaceNotFound", $"There is no network interface '{interfaceName}' on this host (in this network namespace); `ip link` lists them.", interfaceName);
}

/// <summary>An AoE target did not answer, answered with an AoE error, or failed the ATA command.</summary>
public sealed class AoeTargetException(string errorId, string message, string target, StorageErrorKind kind = StorageErrorKind.InvalidOperation)
    : SparseStorageException(errorId, kind, message, target);
