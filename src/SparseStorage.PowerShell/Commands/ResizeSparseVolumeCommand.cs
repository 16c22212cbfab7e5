using System.Management.Automation;
using SparseStorage.Core.Volumes.Resize;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Resize-SparseVolume: grows or shrinks a volume's image and filesystem together, in an order that cannot lose data.</summary>
[Cmdlet(VerbsCommon.Resize, "SparseVolume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VolumeResizeResult))]
public sealed class ResizeSparseVolumeCommand : VolumeCmdlet
{
    /// <summary>The new virtual size (10GB, '10GiB', '1.5T'); rounded up to whole MiB.</summary>
    [Parameter]
    [ByteSizeTransformation]
    public ByteSize? Size { get; set; }

    /// <summary>A signed change: +10GB grows, -5GB shrinks.</summary>
    [Parameter]
    [DeltaTransformation]
    public long? Delta { get; set; }

    /// <summary>Shrink to the filesystem's minimum plus a margin of 10 % (at least 64 MiB).</summary>
    [Parameter]
    public SwitchParameter ToMinimumSize { get; set; }

    /// <summary>Do not ask before shrinking (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            var request = new ResizeRequest { Size = Size, Delta = Delta, ToMinimumSize = ToMinimumSize };
            var resizer = new VolumeResizer(Context);
            foreach (var warning in resizer.Warnings(volume, request))
                WriteWarning(warning);
            if (!ShouldProcessSteps(volume.Path, resizer.Plan(volume, request), "Resize volume"))
                return;
            if (VolumeResizer.IsShrink(volume, request) && !ConfirmHighImpact(Force,
                    $"Shrink volume '{volume.Name}' from {ByteSize.Format(volume.SizeBytes)} to {(ToMinimumSize ? "its filesystem's minimum plus margin" : ByteSize.Format(VolumeResizer.TargetOf(volume, request)))}? Space beyond the new size is cut off.", "Shrink volume"))
                return;
            WriteObject(RunWithProgress((progress, token) => resizer.Resize(volume, request, progress, token)));
        }, VolumeTarget);
}
