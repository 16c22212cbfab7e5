using System.Management.Automation;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Volumes.Resize;
using SparseStorage.PowerShell.Completers;

namespace SparseStorage.PowerShell.Commands;

/// <summary>
/// Resize-SparseVolume: grows or shrinks a volume's image and filesystem together, in an order that cannot lose data.
/// The new size is given one way, -Size, -Delta or -ToMinimumSize, each in parameter sets of its own (by name or by path).
/// A volume of a Ceph pool is resized with rbd resize, its filesystem through the image exported as a file.
/// </summary>
[Cmdlet(VerbsCommon.Resize, "SparseVolume", DefaultParameterSetName = SizeByPath, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VolumeResizeResult))]
public sealed class ResizeSparseVolumeCommand : VolumeCmdlet
{
    private const string SizeByName = "SizeBy" + NameSet;
    private const string SizeByPath = "SizeBy" + PathSet;
    private const string DeltaByName = "DeltaBy" + NameSet;
    private const string DeltaByPath = "DeltaBy" + PathSet;
    private const string MinimumByName = "ToMinimumSizeBy" + NameSet;
    private const string MinimumByPath = "ToMinimumSizeBy" + PathSet;

    /// <summary>The volume's name in its pool (no wildcards: this cmdlet changes the volume).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = SizeByName)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = DeltaByName)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = MinimumByName)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(VolumeNameCompleter))]
    public new string Name { get => base.Name; set => base.Name = value; }

    /// <summary>The pool to look for -Name in; needed only when the name exists in several pools.</summary>
    [Parameter(ParameterSetName = SizeByName)]
    [Parameter(ParameterSetName = DeltaByName)]
    [Parameter(ParameterSetName = MinimumByName)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PoolNameCompleter))]
    public new string? Pool { get => base.Pool; set => base.Pool = value; }

    /// <summary>The volume's image file.</summary>
    [Parameter(Mandatory = true, ParameterSetName = SizeByPath, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = DeltaByPath, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = MinimumByPath, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath")]
    [ValidateNotNullOrEmpty]
    public new string Path { get => base.Path; set => base.Path = value; }

    /// <summary>The new virtual size (10GB, '10GiB', '1.5T'); rounded up to whole MiB.</summary>
    [Parameter(Mandatory = true, ParameterSetName = SizeByName)]
    [Parameter(Mandatory = true, ParameterSetName = SizeByPath)]
    [ByteSizeTransformation]
    public ByteSize Size { get; set; }

    /// <summary>A signed change of size: +10GB or '+10GB' grows, -5GB or '-1.5T' shrinks; a size without a sign grows.</summary>
    [Parameter(Mandatory = true, ParameterSetName = DeltaByName)]
    [Parameter(Mandatory = true, ParameterSetName = DeltaByPath)]
    [DeltaTransformation]
    public long Delta { get; set; }

    /// <summary>Shrink to the filesystem's minimum plus a margin of 10 % (at least 64 MiB), measured while running.</summary>
    [Parameter(Mandatory = true, ParameterSetName = MinimumByName)]
    [Parameter(Mandatory = true, ParameterSetName = MinimumByPath)]
    public SwitchParameter ToMinimumSize { get; set; }

    /// <summary>Do not ask before shrinking (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            IPlannedOperation<ResizeRequest, ResizePlan, VolumeResizeResult> resizer =
                CephVolumeResize.Handles(volume) ? new CephVolumeResize(Context) : new VolumeResizer(Context);
            var plan = resizer.Plan(Request(volume));
            if (ShouldApply(plan))
                WriteObject(RunWithProgress((progress, token) => resizer.Apply(plan, progress, token)));
        }, VolumeTarget);

    private ResizeRequest Request(SparseVolume volume) => ParameterSetName switch
    {
        SizeByName or SizeByPath => ResizeRequest.To(volume, Size),
        DeltaByName or DeltaByPath => ResizeRequest.By(volume, Delta),
        _ => ResizeRequest.ToMinimum(volume),
    };
}
