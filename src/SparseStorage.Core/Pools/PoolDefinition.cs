namespace SparseStorage.Core.Pools;

/// <summary>A pool as stored in the configuration file: only its name and directory.</summary>
public sealed record PoolDefinition(string Name, string Path);
