namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Test classes that count this process's secret files in /dev/shm run alone: another class writing a key meanwhile
/// would look like a secret file that outlived its operation.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SecretFileCollection
{
    public const string Name = "Secret files";
}
