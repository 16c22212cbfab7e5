using System.Management.Automation;
using SparseStorage.Core.Copying;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Copy-SparseVolume: a full clone that keeps holes, or with -Linked a qcow2 overlay that reads through the source.</summary>
[Cmdlet(VerbsCommon.Copy, "SparseVolume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SparseVolume))]
public sealed class CopySparseVolumeCommand : VolumeCmdlet
{
    /// <summary>
    /// Where the copy goes: a volume name (placed beside the source, same format), a file path in a registered pool,
    /// or a pool directory (the source's name is kept).
    /// </summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>Make a qcow2 overlay on the source instead of a full copy; the source becomes a read-only base image.</summary>
    [Parameter]
    public SwitchParameter Linked { get; set; }

    /// <summary>Turn all-zero 4 KiB blocks inside the source's allocated extents into holes in the copy (reads all data; no reflink).</summary>
    [Parameter]
    public SwitchParameter DetectZeroes { get; set; }

    /// <summary>Replace an existing destination volume (never one in use, a base image or one with snapshots).</summary>
    [Parameter]
    public SwitchParameter Replace { get; set; }

    /// <summary>
    /// Copy a source that is attached writable and whose writes cannot be paused (attached without a mount, or a
    /// filesystem without freeze); the copy's filesystem may then need a check.
    /// </summary>
    [Parameter]
    public SwitchParameter AllowInUseSource { get; set; }

    /// <summary>Do not ask for confirmation (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var destination = Destination.Contains('/') ? ProviderPath(Destination) : Destination;
            var source = ResolveVolume();
            var request = new CopyVolumeRequest
            {
                Destination = destination, Linked = Linked, DetectZeroes = DetectZeroes, Replace = Replace, AllowInUseSource = AllowInUseSource,
            };
            if (Core.Ceph.CephCrossPoolCopy.Handles(source.Path, destination))
                Copy(new Core.Ceph.CephCrossPoolCopy(Context), source, request);
            else if (Core.Ceph.CephPoolSettings.IsRbdPath(source.Path))
                Copy(new Core.Ceph.CephVolumeCopy(Context), source, request);
            else
                Copy(new VolumeCopier(Context), source, request);
        }, VolumeTarget);

    protected override bool HandlesCephVolumes => true;

    private void Copy<TPlan>(Core.Planning.IPlannedOperation<(SparseVolume Source, CopyVolumeRequest Request), TPlan, SparseVolume> copier, SparseVolume source, CopyVolumeRequest request)
        where TPlan : Core.Planning.OperationPlan
    {
        var plan = copier.Plan((source, request));
        if (ShouldApply(plan))
            WriteObject(RunWithProgress((progress, token) => copier.Apply(plan, progress, token)));
    }
}
