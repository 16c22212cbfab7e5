using System.Management.Automation;
using SparseStorage.Core.Backups;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Expand-SparseVolume: restores a volume from a .tar.zst archive, sparse and byte-identical.</summary>
[Cmdlet(VerbsData.Expand, "SparseVolume", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SparseVolume))]
public sealed class ExpandSparseVolumeCommand : SparseStorageCmdlet
{
    /// <summary>The archive; binds Path from Compress-SparseVolume output and FullName from Get-ChildItem.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The volume file to create in a pool, or a pool directory (the image keeps its archived name).</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>Replace an existing volume (never one in use, a base image or one with snapshots).</summary>
    [Parameter]
    public SwitchParameter Replace { get; set; }

    /// <summary>Do not ask for confirmation (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var archives = new ArchiveService(Context);
            var plan = archives.Plan(new ExpandVolumeRequest(ProviderPath(Path), ProviderPath(Destination)) { Replace = Replace });
            if (ShouldApply(plan))
                WriteObject(RunWithProgress((progress, token) => archives.Apply(plan, progress, token)));
        }, Path);
}
