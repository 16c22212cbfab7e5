namespace SparseStorage.Core.Tests.Integration;

/// <summary>The test classes that bring up a Ceph lab run one after another and alone: two clusters at once do not fit this machine.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CephLabCollection
{
    public const string Name = "Ceph lab";
}
