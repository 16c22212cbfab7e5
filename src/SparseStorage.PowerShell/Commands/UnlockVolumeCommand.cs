using System.Management.Automation;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Planning;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Unlock-Volume: opens an encrypted volume's plaintext (dm-crypt, or qemu-storage-daemon over FUSE) so that Mount-SparseVolume can mount it.</summary>
[Cmdlet(VerbsCommon.Unlock, "Volume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SparseVolume))]
public sealed class UnlockVolumeCommand : EncryptedVolumeCmdlet
{
    /// <summary>Open the plaintext read-only.</summary>
    [Parameter]
    public SwitchParameter ReadOnly { get; set; }

    /// <summary>Pass discards (fstrim) down to the image. Off by default: the holes they punch show which sectors are free.</summary>
    [Parameter]
    public SwitchParameter AllowDiscards { get; set; }

    /// <summary>Write the unlocked volume.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            IPlannedOperation<UnlockVolumeRequest, UnlockVolumePlan, SparseVolume> unlocker = CephVolumeUnlocking.Handles(volume) ? new CephVolumeUnlocking(Context) : new VolumeUnlocker(Context);
            var plan = unlocker.Plan(new UnlockVolumeRequest(volume, Keys(volume.Name), new UnlockOptions(ReadOnly, AllowDiscards)));
            if (!ShouldApply(plan))
                return;
            var result = RunWithProgress((progress, token) => unlocker.Apply(plan, progress, token));
            if (PassThru)
                WriteObject(result);
        }, VolumeTarget);
}
