using System.Management.Automation;
using SparseStorage.Core.Pools;
using SparseStorage.PowerShell.Completers;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Unregister-StoragePool: forgets a pool. Its directory and volumes stay on disk untouched.</summary>
[OutputType(typeof(StoragePool))]
[Cmdlet(VerbsLifecycle.Unregister, "StoragePool", DefaultParameterSetName = "InputObject", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
public sealed class UnregisterStoragePoolCommand : SparseStorageCmdlet
{
    /// <summary>The pool to forget.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Name")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PoolNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>
    /// A pool from Get-StoragePool, also deserialized from a remote session. Only pools are taken from the pipeline,
    /// so a piped volume cannot name a pool by accident.
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = "InputObject", ValueFromPipeline = true)]
    public PSObject? InputObject { get; set; }

    /// <summary>Write the pool as it was before it was unregistered.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var registrar = new PoolRegistrar(Context);
            var plan = registrar.Plan(new UnregisterPoolRequest(PoolName));
            if (!ShouldApply(plan))
                return;
            var unregistered = RunWithProgress((progress, token) => registrar.Apply(plan, progress, token));
            if (PassThru)
                WriteObject(unregistered);
        }, InputObject?.BaseObject ?? Name);

    private string PoolName
    {
        get
        {
            if (InputObject is null)
                return Name;
            PipelineInput.Require<StoragePool>(InputObject, "Get-StoragePool");
            return PipelineInput.Property<string>(InputObject, nameof(StoragePool.Name));
        }
    }
}
