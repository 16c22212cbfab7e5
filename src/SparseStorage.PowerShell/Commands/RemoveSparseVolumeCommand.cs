using System.Management.Automation;
using SparseStorage.Core.Volumes;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Remove-SparseVolume: deletes a volume's image; -Wipe overwrites its data first. Refuses a mounted or attached volume.</summary>
[Cmdlet(VerbsCommon.Remove, "SparseVolume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(SparseVolume))]
public sealed class RemoveSparseVolumeCommand : VolumeCmdlet
{
    /// <summary>
    /// Overwrite every allocated block with zeros and flush before deleting, so the data cannot be recovered from the pool's disk.
    /// In a Ceph pool the zeros are written through librbd before rbd rm; the OSDs' own disks may still hold old blocks.
    /// </summary>
    [Parameter]
    public SwitchParameter Wipe { get; set; }

    /// <summary>Do not ask for confirmation (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write the removed volume as it was just before removal.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var removed = PlanAndApply(new VolumeRemovalService(Context), new RemoveVolumeRequest(ResolveVolume(), Wipe));
            if (removed is not null && PassThru)
                WriteObject(removed);
        }, VolumeTarget);
}
