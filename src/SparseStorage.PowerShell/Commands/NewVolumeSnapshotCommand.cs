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
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            var name = SnapshotService.RequireValidName(Name ?? SnapshotService.DefaultName(DateTime.UtcNow));
            var service = new SnapshotService(Context);
            var consistency = service.Assess(volume);
            var how = consistency == WriteConsistency.Frozen ? $" (freezing {volume.MountPoint} meanwhile)" : "";
            if (!ShouldProcess(volume.Path, $"Create snapshot '{name}'{how}"))
                return;
            if (consistency == WriteConsistency.Unfrozen && Force)
                WriteWarning($"Volume '{volume.Name}' is in use and its writes cannot be paused; snapshot '{name}' may hold a filesystem that needs a check.");
            WriteObject(RunWithProgress((progress, token) => service.Create(volume, name, Force, progress, token)));
        }, Target);
}
