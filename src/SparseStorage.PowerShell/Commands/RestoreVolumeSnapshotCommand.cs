using System.Management.Automation;
using SparseStorage.Core.Snapshots;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Restore-VolumeSnapshot: brings a dismounted volume back to a snapshot; what was written since is lost.</summary>
[Cmdlet(VerbsData.Restore, "VolumeSnapshot", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(SparseVolume))]
public sealed class RestoreVolumeSnapshotCommand : SnapshotCmdlet
{
    /// <summary>The snapshot to restore; binds the Name of a snapshot from the pipeline.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(Completers.SnapshotNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>Do not ask for confirmation (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write the restored volume.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var service = new SnapshotService(Context);
            var plan = service.Plan(new RestoreSnapshotRequest(ResolveVolume(), Name));
            if (!ShouldApply(plan))
                return;
            var restored = RunWithProgress((progress, token) => service.Apply(plan, progress, token));
            if (PassThru)
                WriteObject(restored);
        }, Target);
}
