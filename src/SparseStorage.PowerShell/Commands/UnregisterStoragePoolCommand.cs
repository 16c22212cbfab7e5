using System.Management.Automation;
using SparseStorage.PowerShell.Completers;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Unregister-StoragePool: forgets a pool. Its directory and volumes stay on disk untouched.</summary>
[Cmdlet(VerbsLifecycle.Unregister, "StoragePool", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(StoragePool))]
public sealed class UnregisterStoragePoolCommand : SparseStorageCmdlet
{
    /// <summary>The pool to forget; binds from StoragePool objects on the pipeline.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PoolNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>Write the pool as it was before it was unregistered.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var pool = Context.Pools.Find(Name);
            if (!ShouldProcess(pool.Path, $"Unregister storage pool '{pool.Name}' (files are kept)"))
                return;
            var described = PassThru ? Context.Pools.Describe(pool) : null;
            Context.Pools.Unregister(pool.Name);
            if (described is not null)
                WriteObject(described);
        }, Name);
}
