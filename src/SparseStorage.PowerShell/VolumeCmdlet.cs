using System.Management.Automation;
using SparseStorage.Core.Volumes;
using SparseStorage.PowerShell.Completers;

namespace SparseStorage.PowerShell;

/// <summary>
/// A cmdlet that acts on existing volumes, given by -Name (with -Pool) or by -Path. -Path binds by property name,
/// so SparseVolume objects, Get-ChildItem output (FullName) and PSPath-bearing objects all pipe in. A cmdlet that
/// crosses these two sets with its own declares Name, Pool and Path again in sets named "…ByName" and "…ByPath".
/// </summary>
public abstract class VolumeCmdlet : SparseStorageCmdlet
{
    protected const string NameSet = "Name";
    protected const string PathSet = "Path";

    /// <summary>The volume's name in its pool (no wildcards: this cmdlet changes the volume).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(VolumeNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>The pool to look for -Name in; needed only when the name exists in several pools.</summary>
    [Parameter(ParameterSetName = NameSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PoolNameCompleter))]
    public string? Pool { get; set; }

    /// <summary>The volume's image file.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The volume as the user named it, for error records.</summary>
    protected string VolumeTarget => ByPath ? Path : Name;

    private bool ByPath => ParameterSetName == PathSet || ParameterSetName.EndsWith("By" + PathSet, StringComparison.Ordinal);

    /// <summary>Whether this cmdlet acts on volumes of Ceph pools; the others refuse them with CephVolumeNotSupported.</summary>
    protected virtual bool HandlesCephVolumes => false;

    /// <summary>The volume this record names, read fresh from disk.</summary>
    protected SparseVolume ResolveVolume()
    {
        var volume = ByPath
            ? new VolumeCatalog(Context).Get(ProviderPath(Path))
            : new VolumeCatalog(Context).Single(Name, Pool);
        return HandlesCephVolumes ? volume : Core.Ceph.CephPoolSettings.RefuseUnlessFile(volume, MyInvocation.MyCommand.Name);
    }
}
