using System.Management.Automation;
using SparseStorage.Core.Volumes;

namespace SparseStorage.PowerShell.Commands;

/// <summary>
/// Mount-SparseVolume: attaches a volume to a loop device (qcow2 through a FUSE export) and mounts its filesystem. An
/// encrypted volume is mounted from its unlocked plaintext; a locked one is unlocked with -Passphrase/-KeyFile first
/// (prompted when neither is given) and locked again by Dismount-SparseVolume.
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

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var mounter = new VolumeMounter(Context);
            var plan = mounter.Plan(new MountVolumeRequest(ResolveVolume(), ProviderPath(MountPoint), ReadOnly, AllowDiscards));
            if (!ShouldApply(plan))
                return;
            var keys = plan.NeedsKey ? Keys(plan.Volume.Name) : [];
            WriteObject(RunWithProgress((progress, token) => mounter.Apply(plan, keys, progress, token)));
        }, VolumeTarget);
}
