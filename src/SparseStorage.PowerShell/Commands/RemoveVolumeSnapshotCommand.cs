using System.Management.Automation;
using SparseStorage.Core.Snapshots;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Remove-VolumeSnapshot: deletes snapshots of a volume; the volume itself is not changed.</summary>
[Cmdlet(VerbsCommon.Remove, "VolumeSnapshot", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(VolumeSnapshot))]
public sealed class RemoveVolumeSnapshotCommand : SnapshotCmdlet
{
    /// <summary>Snapshot names, wildcards allowed; binds the Name of a snapshot from the pipeline.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(Completers.SnapshotNameCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>Do not ask for confirmation (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write each removed snapshot.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            var service = new SnapshotService(Context);
            foreach (var snapshot in service.Get(volume, Name, missing => WriteError(Errors.ErrorMapping.ToRecord(missing, volume.Path))).ToList())
                Invoke(() =>
                {
                    var plan = service.Plan(new RemoveSnapshotRequest(volume, snapshot.Name));
                    if (!ShouldApply(plan))
                        return;
                    var removed = RunWithProgress((progress, token) => service.Apply(plan, progress, token));
                    if (PassThru)
                        WriteObject(removed);
                }, snapshot.Name);
        }, Target);
}
