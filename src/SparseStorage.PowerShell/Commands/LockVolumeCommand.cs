using System.Management.Automation;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Planning;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Lock-Volume: closes an encrypted volume's plaintext (stops its daemon or closes its mapping), unmounting first with -Dismount (lazily with -LazyUnmount).</summary>
[Cmdlet(VerbsCommon.Lock, "Volume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SparseVolume))]
public sealed class LockVolumeCommand : VolumeCmdlet
{
    /// <summary>Unmount the volume first; without it a mounted volume is refused (a broken one is cleaned up anyway).</summary>
    [Parameter]
    public SwitchParameter Dismount { get; set; }

    /// <summary>Unmount lazily (umount --lazy): a busy filesystem leaves the directory tree at once, while the processes using it keep it.</summary>
    [Parameter]
    public SwitchParameter LazyUnmount { get; set; }

    /// <summary>Skip the confirmation prompt (and nothing else).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write the locked volume.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            IPlannedOperation<LockVolumeRequest, LockVolumePlan, SparseVolume> unlocker = CephVolumeUnlocking.Handles(volume) ? new CephVolumeUnlocking(Context) : new VolumeUnlocker(Context);
            var plan = unlocker.Plan(new LockVolumeRequest(volume, Dismount, LazyUnmount));
            if (!ShouldApply(plan))
                return;
            var result = RunWithProgress((progress, token) => unlocker.Apply(plan, progress, token));
            if (PassThru)
                WriteObject(result);
        }, VolumeTarget);
}
