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

    /// <summary>Replace an existing archive, and archive a volume whose writes cannot be paused.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            var archives = new ArchiveService(Context);
            var archive = archives.ResolveArchivePath(volume, ProviderPath(Destination));
            if (!ShouldProcess(volume.Path, $"Archive {ByteSize.Format(volume.AllocatedBytes)} of data into {archive}: {ArchiveService.DescribeCompression(volume.Path, archive, Level)}"))
                return;
            WriteObject(RunWithProgress((progress, token) => archives.Compress(volume, archive, Level, Force, progress, token)));
        }, VolumeTarget);
}
