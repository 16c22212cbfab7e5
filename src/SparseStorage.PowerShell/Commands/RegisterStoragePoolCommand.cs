using System.Management.Automation;
using SparseStorage.Core.Pools;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Register-StoragePool: names a directory as a pool that volumes may live in.</summary>
[Cmdlet(VerbsLifecycle.Register, "StoragePool", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(StoragePool))]
public sealed class RegisterStoragePoolCommand : SparseStorageCmdlet
{
    /// <summary>The pool's name: letters, digits, '.', '_' and '-'.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>An existing directory; it may not contain or lie inside another pool.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>
    /// The largest overcommit ratio (provisioned ÷ capacity) that New-SparseVolume and Resize-SparseVolume may bring
    /// the pool to; beyond it they refuse. Unlimited when omitted (growing past the free space still warns).
    /// </summary>
    [Parameter]
    public double? MaxOvercommit { get; set; }

    protected override void ProcessRecord()
    {
        Invoke(() =>
        {
            var registrar = new PoolRegistrar(Context);
            var plan = registrar.Plan(new RegisterPoolRequest(Name, ProviderPath(Path), MaxOvercommit));
            if (ShouldApply(plan))
                WriteObject(RunWithProgress((progress, token) => registrar.Apply(plan, progress, token)));
        }, Path);
    }
}
