using System.Management.Automation;
using SparseStorage.Core.Backups;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Compress-SparseVolume: archives a volume as a GNU sparse tar compressed with multithreaded zstd (.tar.zst).</summary>
[Cmdlet(VerbsData.Compress, "SparseVolume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VolumeArchive))]
public sealed class CompressSparseVolumeCommand : VolumeCmdlet
{
    /// <summary>The archive file (ending in .tar.zst), or a directory to put &lt;image file name&gt;.tar.zst in.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>zstd level from 1 (fastest) to 19 (smallest); 3 by default.</summary>
    [Parameter]
    [ValidateRange(1, 19)]
    public int Level { get; set; } = 3;

    /// <summary>Replace an existing archive, once the new one is complete.</summary>
    [Parameter]
    public SwitchParameter Replace { get; set; }

    /// <summary>
    /// Archive a volume that is attached writable and whose writes cannot be paused (attached without a mount, or a
    /// filesystem without freeze); the archived filesystem may then need a check.
    /// </summary>
    [Parameter]
    public SwitchParameter AllowInUseSource { get; set; }

    /// <summary>Do not ask for confirmation (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var archives = new ArchiveService(Context);
            var request = new CompressVolumeRequest(ResolveVolume(), ProviderPath(Destination))
            {
                Level = Level, Replace = Replace, AllowInUseSource = AllowInUseSource,
            };
            if (Core.Ceph.CephPoolSettings.IsRbdPath(request.Volume.Path))
            {
                WriteObject(PlanAndApply(new Core.Ceph.CephVolumeArchive(Context), request));
                return;
            }
            var plan = archives.Plan(request);
            if (ShouldApply(plan))
                WriteObject(RunWithProgress((progress, token) => archives.Apply(plan, progress, token)));
        }, VolumeTarget);

    protected override bool HandlesCephVolumes => true;
}
