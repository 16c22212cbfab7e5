using System.Management.Automation;
using SparseStorage.Core.Volumes;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Dismount-SparseVolume: unmounts a volume, detaches its loop device and stops its FUSE daemon. A volume not in use is left as it is.</summary>
[Cmdlet(VerbsData.Dismount, "SparseVolume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SparseVolume))]
public sealed class DismountSparseVolumeCommand : VolumeCmdlet
{
    /// <summary>Write the volume after dismounting.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            var mounter = new VolumeMounter(Context);
            var steps = mounter.PlanDismount(volume);
            if (steps.Count == 0)
            {
                WriteVerbose($"Volume '{volume.Name}' is not mounted or attached; nothing to do.");
                if (PassThru)
                    WriteObject(volume);
                return;
            }
            if (!ShouldProcessSteps(volume.Path, steps, "Dismount volume"))
                return;
            var result = RunWithProgress((_, token) => mounter.Dismount(volume, token));
            if (PassThru)
                WriteObject(result);
        }, VolumeTarget);
}
