using System.Management.Automation;
using SparseStorage.Core.Encryption;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Lock-Volume: closes an encrypted volume's plaintext (stops its daemon or closes its mapping), unmounting first with -Dismount.</summary>
[Cmdlet(VerbsCommon.Lock, "Volume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SparseVolume))]
public sealed class LockVolumeCommand : VolumeCmdlet
{
    /// <summary>Unmount the volume first; without it a mounted volume is refused.</summary>
    [Parameter]
    public SwitchParameter Dismount { get; set; }

    /// <summary>Also clean up a broken volume (its daemon killed while mounted) with lazy unmounts.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write the locked volume.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            var unlocker = new VolumeUnlocker(Context);
            if (!ShouldProcessSteps(volume.Path, unlocker.PlanLock(volume), "Lock volume"))
                return;
            var result = RunWithProgress((_, token) => unlocker.Lock(volume, Dismount, Force, token));
            if (PassThru)
                WriteObject(result);
        }, VolumeTarget);
}
