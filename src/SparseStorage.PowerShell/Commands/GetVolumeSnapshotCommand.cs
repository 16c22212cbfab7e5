using System.Management.Automation;
using SparseStorage.Core.Snapshots;
using SparseStorage.Core.Volumes;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Get-VolumeSnapshot: lists a volume's snapshots (qcow2: read from the image's snapshot table; raw: from the pool's .snapshots folder).</summary>
[Cmdlet(VerbsCommon.Get, "VolumeSnapshot", DefaultParameterSetName = PathSet)]
[OutputType(typeof(VolumeSnapshot))]
public sealed class GetVolumeSnapshotCommand : SnapshotCmdlet
{
    /// <summary>Snapshot names; wildcards allowed. All snapshots when omitted.</summary>
    [Parameter(Position = 1)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(Completers.SnapshotNameCompleter))]
    public string[] Name { get; set; } = [];

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var service = new SnapshotService(Context);
            foreach (var volume in Volumes())
                foreach (var snapshot in service.Get(volume, Name, missing => WriteError(Errors.ErrorMapping.ToRecord(missing, volume.Path))))
                    WriteObject(snapshot);
        }, Target);

    /// <summary>-Volume may hold wildcards here: listing is read-only.</summary>
    private IEnumerable<SparseVolume> Volumes() =>
        ParameterSetName == VolumeSet ? new VolumeCatalog(Context).ByName([Volume], Pool) : [ResolveVolume()];
}
