using System.Management.Automation;
using SparseStorage.Core.Backups;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Backup-SparseVolume: a full or incremental backup set of a volume in a destination directory.</summary>
[Cmdlet(VerbsData.Backup, "SparseVolume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VolumeBackup))]
public sealed class BackupSparseVolumeCommand : VolumeCmdlet
{
    /// <summary>The directory that holds backup sets; each volume gets a folder of its own inside it.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>Store every block, even when an earlier set of the volume exists (starts a new chain).</summary>
    [Parameter]
    public SwitchParameter Full { get; set; }

    /// <summary>After the backup, keep only the newest N sets of the volume and what their chains need.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? Keep { get; set; }

    /// <summary>
    /// A file holding the operator's integrity key (16 bytes to 64 KiB, mode 0600): the set's manifest is signed with
    /// HMAC-SHA256 (manifest.hmac), and an incremental builds only on a set signed with the same key.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? IntegrityKeyFile { get; set; }

    /// <summary>Back up a volume whose writes cannot be paused (attached without a mount): the set may then hold a filesystem that needs a check.</summary>
    [Parameter]
    public SwitchParameter AllowUnpausedWrites { get; set; }

    /// <summary>Do not ask for confirmation (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var service = new VolumeBackupService(Context);
            var request = new BackupRequest
            {
                Destination = ProviderPath(Destination), Full = Full, AllowUnpausedWrites = AllowUnpausedWrites, Keep = Keep, IntegrityKey = LoadIntegrityKey(IntegrityKeyFile),
            };
            var volume = ResolveVolume();
            if (Core.Ceph.CephPoolSettings.IsRbdPath(volume.Path))
            {
                WriteObject(PlanAndApply(new Core.Ceph.CephVolumeBackup(Context), (volume, request)));
                return;
            }
            var plan = service.Plan(volume, request);
            if (ShouldApply(plan))
                WriteObject(RunWithProgress((progress, token) => service.Apply(plan, progress, token)));
        }, VolumeTarget);

    protected override bool HandlesCephVolumes => true;
}
