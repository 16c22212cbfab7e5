using System.Globalization;
using SparseStorage.Core.Planning;

namespace SparseStorage.Core.Pools;

/// <summary>What Register-StoragePool was asked for.</summary>
public sealed record RegisterPoolRequest(string Name, string Path, double? MaxOvercommit = null);

/// <summary>A checked registration: the resolved directory and the one change to the pool configuration.</summary>
public sealed record RegisterPoolPlan(string Name, string Directory, double? MaxOvercommit, string ConfigurationPath) : OperationPlan
{
    public override string Target => Directory;
    public override string Action => $"Register storage pool '{Name}'";
    public override IReadOnlyList<string> Steps =>
        [$"add pool '{Name}' at {Directory}{(MaxOvercommit is { } limit ? $" (overcommit at most {limit.ToString("0.###", CultureInfo.InvariantCulture)})" : "")} to {ConfigurationPath}"];
}

/// <summary>What Unregister-StoragePool was asked for.</summary>
public sealed record UnregisterPoolRequest(string Name);

/// <summary>A checked unregistration: the pool as registered and the one change to the pool configuration; its files stay.</summary>
public sealed record UnregisterPoolPlan(PoolDefinition Pool, string ConfigurationPath) : OperationPlan
{
    public override string Target => Pool.Path;
    public override string Action => $"Unregister storage pool '{Pool.Name}' (files are kept)";
    public override IReadOnlyList<string> Steps => [$"remove pool '{Pool.Name}' ({Pool.Path}) from {ConfigurationPath}"];
}
