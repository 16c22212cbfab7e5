namespace SparseStorage.Core.Configuration;

/// <summary>One change the SparseStoragePool resource makes.</summary>
public enum PoolStepKind
{
    /// <summary>Register-StoragePool.</summary>
    Register,
    /// <summary>Unregister-StoragePool (the directory and its volumes stay on disk).</summary>
    Unregister,
}
