using System.Management.Automation;
using SparseStorage.Core.Volumes;
using SparseStorage.PowerShell.Completers;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Get-SparseVolume: lists and inspects volumes by name (wildcards), by pool, by file or directory path, or by loop device.</summary>
[Cmdlet(VerbsCommon.Get, "SparseVolume", DefaultParameterSetName = NameSet)]
[OutputType(typeof(SparseVolume))]
public sealed class GetSparseVolumeCommand : SparseStorageCmdlet
{
    private const string NameSet = "Name";
    private const string PathSet = "Path";
    private const string LoopDeviceSet = "LoopDevice";

    /// <summary>Volume names; wildcards allowed. All volumes when omitted.</summary>
    [Parameter(Position = 0, ParameterSetName = NameSet, ValueFromPipeline = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VolumeNameCompleter))]
    public string[] Name { get; set; } = ["*"];

    /// <summary>Only volumes in this pool.</summary>
    [Parameter(ParameterSetName = NameSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PoolNameCompleter))]
    public string? Pool { get; set; }

    /// <summary>
    /// Image files, or directories whose volumes to list; binds FullName from Get-ChildItem, Path from pools and volumes,
    /// and VolumePath from snapshots and AoE exports (which would otherwise bind to -Name as their ToString()).
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath", "VolumePath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>Loop devices (/dev/loop3, loop3, or wildcards such as /dev/loop*) whose volumes to show.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LoopDeviceSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LoopDeviceCompleter))]
    public string[] LoopDevice { get; set; } = [];

    protected override void BeginProcessing() => LeftoverSweep.Run(this, Context);

    protected override void ProcessRecord()
    {
        var catalog = new VolumeCatalog(Context);
        if (ParameterSetName != PathSet)
        {
            Invoke(() =>
            {
                var volumes = ParameterSetName == NameSet ? catalog.ByName(Name, Pool, WriteMissing) : catalog.ByLoopDevice(LoopDevice, WriteMissing);
                foreach (var volume in volumes)
                    WriteObject(volume);
            });
            return;
        }
        foreach (var path in Path)
            Invoke(() => WriteObject(catalog.ByPath(ProviderPath(path)), enumerateCollection: true), path);
    }

    private void WriteMissing(VolumeNotFoundException missing) => WriteError(Errors.ErrorMapping.ToRecord(missing));
}
