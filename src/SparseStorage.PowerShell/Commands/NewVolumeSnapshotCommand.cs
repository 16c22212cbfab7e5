using System.Management.Automation;
using SparseStorage.Core.Snapshots;

namespace SparseStorage.PowerShell.Commands;

/// <summary>New-VolumeSnapshot: takes a snapshot of a volume; a mounted volume's filesystem is frozen while it is taken.</summary>
[Cmdlet(VerbsCommon.New, "VolumeSnapshot", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VolumeSnapshot))]
public sealed class NewVolumeSnapshotCommand : SnapshotCmdlet
{
    /// <summary>The snapshot's name (letters, digits, '.', '_', '-'; not digits only). Defaults to the UTC time, yyyyMMdd-HHmmss.</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    /// <summary>Snapshot a volume whose writes cannot be paused (attached without a mount): the snapshot's filesystem may then need a check.</summary>
    [Parameter]
    public SwitchParameter AllowUnpausedWrites { get; set; }

    /// <summary>Do not ask for confirmation (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var service = new SnapshotService(Context);
            var name = Name ?? SnapshotService.DefaultName(DateTime.UtcNow);
            var plan = service.Plan(new NewSnapshotRequest(ResolveVolume(), name) { AllowUnpausedWrites = AllowUnpausedWrites });
            if (ShouldApply(plan))
                WriteObject(RunWithProgress((progress, token) => service.Apply(plan, progress, token)));
        }, Target);
}
