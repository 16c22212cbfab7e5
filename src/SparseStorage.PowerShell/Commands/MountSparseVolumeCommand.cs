using System.Management.Automation;
using SparseStorage.Core;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Volumes;

namespace SparseStorage.PowerShell.Commands;

/// <summary>
/// Mount-SparseVolume: attaches a volume to a loop device (qcow2 through a FUSE export) and mounts its filesystem. An
/// encrypted volume is mounted from its unlocked plaintext; a locked one is unlocked with -Passphrase/-KeyFile first
/// (prompted when neither is given) and locked again by Dismount-SparseVolume. A Ceph volume is exported over FUSE by
/// qemu-storage-daemon's rbd driver, then attached and mounted; read-write, it is locked to this host.
/// </summary>
[Cmdlet(VerbsData.Mount, "SparseVolume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SparseVolume))]
public sealed class MountSparseVolumeCommand : EncryptedVolumeCmdlet
{
    /// <summary>An empty directory to mount on; created when it does not exist (its parent must).</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string MountPoint { get; set; } = "";

    /// <summary>Attach and mount read-only.</summary>
    [Parameter]
    public SwitchParameter ReadOnly { get; set; }

    /// <summary>For an encrypted volume this mount unlocks: pass discards down to the image (off by default: they show which sectors are free).</summary>
    [Parameter]
    public SwitchParameter AllowDiscards { get; set; }

    /// <summary>
    /// For a Ceph volume whose read-write mount is held by a host that died: fence that host (blocklist its clients) and
    /// break its lock, then mount here. The holder as the refusal names it.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? BreakLockOf { get; set; }

    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            if (CephVolumeMounting.Handles(volume))
            {
                MountCeph(volume);
                return;
            }
            if (BreakLockOf is not null)
                throw new InvalidStorageArgumentException("BreakLockNotApplicable", $"-BreakLockOf applies to volumes of Ceph pools only; '{volume.Name}' is a file volume.", volume);
            var mounter = new VolumeMounter(Context);
            var plan = mounter.Plan(new MountVolumeRequest(volume, ProviderPath(MountPoint), ReadOnly, AllowDiscards));
            if (!ShouldApply(plan))
                return;
            var keys = plan.NeedsKey ? Keys(plan.Volume.Name) : [];
            WriteObject(RunWithProgress((progress, token) => mounter.Apply(plan, keys, progress, token)));
        }, VolumeTarget);

    private void MountCeph(SparseVolume volume)
    {
        var mounting = new CephVolumeMounting(Context);
        var keys = volume.Encryption != "None" && !volume.IsUnlocked ? Keys(volume.Name) : null;
        var plan = mounting.Plan(new MountCephVolumeRequest(volume, ProviderPath(MountPoint), ReadOnly, BreakLockOf, keys, AllowDiscards));
        if (!ShouldApply(plan))
            return;
        WriteObject(RunWithProgress((progress, token) => mounting.Apply(plan, progress, token)));
    }
}
