using System.Management.Automation;
using SparseStorage.Core.Volumes;
using SparseStorage.PowerShell.Completers;

namespace SparseStorage.PowerShell;

/// <summary>
/// A cmdlet that acts on a volume's snapshots. The volume is given by -Volume (with -Pool) or by -VolumePath,
/// which binds by property name from snapshots (VolumePath) and from volumes and files (Path, FullName, PSPath).
/// -Name is left to each cmdlet: it names the snapshot.
/// </summary>
public abstract class SnapshotCmdlet : SparseStorageCmdlet
{
    protected const string VolumeSet = "Volume";
    protected const string PathSet = "Path";

    /// <summary>The volume's name in its pool.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = VolumeSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(VolumeNameCompleter))]
    public string Volume { get; set; } = "";

    /// <summary>The pool to look for -Volume in; needed only when the name exists in several pools.</summary>
    [Parameter(ParameterSetName = VolumeSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PoolNameCompleter))]
    public string? Pool { get; set; }

    /// <summary>The volume's image file. Snapshots (VolumePath), volumes (Path) and Get-ChildItem output (FullName) bind to it from the pipeline.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("Path", "FullName", "PSPath")]
    [ValidateNotNullOrEmpty]
    public string VolumePath { get; set; } = "";

    /// <summary>The volume this record names, read fresh from disk.</summary>
    protected SparseVolume ResolveVolume() =>
        ParameterSetName == PathSet
            ? new VolumeCatalog(Context).Get(ProviderPath(VolumePath))
            : new VolumeCatalog(Context).Single(Volume, Pool);

    protected object Target => ParameterSetName == PathSet ? VolumePath : Volume;
}
