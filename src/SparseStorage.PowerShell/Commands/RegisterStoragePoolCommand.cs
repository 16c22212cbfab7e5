using System.Management.Automation;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Pools;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Register-StoragePool: names a directory, or an RBD pool of a Ceph cluster, as a pool that volumes may live in.</summary>
[Cmdlet(VerbsLifecycle.Register, "StoragePool", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(StoragePool))]
public sealed class RegisterStoragePoolCommand : SparseStorageCmdlet
{
    private const string PathSet = "Path";
    private const string CephSet = "Ceph";

    /// <summary>The pool's name: letters, digits, '.', '_' and '-'.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>An existing directory; it may not contain or lie inside another pool.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>
    /// The largest overcommit ratio (provisioned ÷ capacity) that New-SparseVolume and Resize-SparseVolume may bring
    /// the pool to; beyond it they refuse. Unlimited when omitted (growing past the free space still warns).
    /// </summary>
    [Parameter]
    public double? MaxOvercommit { get; set; }

    /// <summary>The RBD pool of the Ceph cluster whose images are this pool's volumes.</summary>
    [Parameter(Mandatory = true, ParameterSetName = CephSet)]
    [ValidateNotNullOrEmpty]
    public string CephPool { get; set; } = "";

    /// <summary>The cluster's configuration file (mon addresses), e.g. /etc/ceph/ceph.conf.</summary>
    [Parameter(Mandatory = true, ParameterSetName = CephSet)]
    [ValidateNotNullOrEmpty]
    public string CephConfig { get; set; } = "";

    /// <summary>The Ceph client id (without "client."), e.g. admin.</summary>
    [Parameter(ParameterSetName = CephSet)]
    [ValidateNotNullOrEmpty]
    public string CephUser { get; set; } = "admin";

    /// <summary>The keyring file holding the client's key; the configuration's keyring when omitted. The key is never read into arguments.</summary>
    [Parameter(ParameterSetName = CephSet)]
    [ValidateNotNullOrEmpty]
    public string? CephKeyring { get; set; }

    /// <summary>The RBD namespace within the pool, to keep this pool's images apart from others.</summary>
    [Parameter(ParameterSetName = CephSet)]
    [ValidateNotNullOrEmpty]
    public string? CephNamespace { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == CephSet)
        {
            Invoke(RegisterCeph, CephPool);
            return;
        }
        Invoke(() =>
        {
            var registrar = new PoolRegistrar(Context);
            var plan = registrar.Plan(new RegisterPoolRequest(Name, ProviderPath(Path), MaxOvercommit));
            if (ShouldApply(plan))
                WriteObject(RunWithProgress((progress, token) => registrar.Apply(plan, progress, token)));
        }, Path);
    }

    private void RegisterCeph()
    {
        var registration = new CephPoolRegistration(Context);
        var settings = new CephPoolSettings(ProviderPath(CephConfig), CephPool, CephUser, CephKeyring is null ? null : ProviderPath(CephKeyring), CephNamespace);
        var plan = registration.Plan(new RegisterCephPoolRequest(Name, settings, MaxOvercommit));
        if (ShouldApply(plan))
            WriteObject(RunWithProgress((progress, token) => registration.Apply(plan, progress, token)));
    }
}
