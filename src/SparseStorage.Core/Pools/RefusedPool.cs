namespace SparseStorage.Core.Pools;

/// <summary>A registered pool whose directory <see cref="PoolPathRules"/> refuses (registered before the rules existed): never acted on.</summary>
public sealed record RefusedPool(PoolDefinition Pool, string Reason)
{
    public UnsafePoolPathException ToError() =>
        new($"Pool '{Pool.Name}' at {Pool.Path} is not used: {Reason}. Unregister it with Unregister-StoragePool.", Pool.Name);
}
