using System.Management.Automation;
using SparseStorage.PowerShell.Completers;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Get-StoragePool: registered pools with capacity, free, provisioned and allocated bytes and the overcommit ratio.</summary>
[Cmdlet(VerbsCommon.Get, "StoragePool")]
[OutputType(typeof(StoragePool))]
public sealed class GetStoragePoolCommand : SparseStorageCmdlet
{
    /// <summary>Pool names; wildcards allowed. All pools when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(PoolNameCompleter))]
    public string[] Name { get; set; } = ["*"];

    protected override void BeginProcessing() => LeftoverSweep.Run(this, Context);

    /// <summary>A pool whose directory the module refuses (registered before the rules) is reported as a warning, not listed.</summary>
    protected override void ProcessRecord() =>
        Invoke(() => WriteObject(Context.Pools.Get(Name, missing => WriteError(Errors.ErrorMapping.ToRecord(missing)), refused => WriteWarning(refused.Message)),
            enumerateCollection: true));
}
