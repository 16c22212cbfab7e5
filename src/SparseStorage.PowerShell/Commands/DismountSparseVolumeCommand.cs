using System.Management.Automation;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Volumes;

namespace SparseStorage.PowerShell.Commands;

/// <summary>
/// Dismount-SparseVolume: unmounts a volume, detaches its loop device and stops its FUSE daemon; a Ceph volume's
/// lock of this host is released. A volume not in use is left as it is.
/// </summary>
[Cmdlet(VerbsData.Dismount, "SparseVolume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SparseVolume))]
public sealed class DismountSparseVolumeCommand : VolumeCmdlet
{
    /// <summary>Write the volume after dismounting.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            if (CephVolumeMounting.Handles(volume))
            {
                DismountCeph(volume);
                return;
            }
            var mounter = new VolumeMounter(Context);
            var plan = mounter.Plan(new DismountVolumeRequest(volume));
            if (plan.Steps.Count == 0)
            {
                WriteVerbose($"Volume '{plan.Volume.Name}' is not mounted or attached; nothing to do.");
                if (PassThru)
                    WriteObject(plan.Volume);
                return;
            }
            if (!ShouldApply(plan))
                return;
            var result = RunWithProgress((progress, token) => mounter.Apply(plan, progress, token));
            if (PassThru)
                WriteObject(result);
        }, VolumeTarget);

    private void DismountCeph(SparseVolume volume)
    {
        var mounting = new CephVolumeMounting(Context);
        var plan = mounting.Plan(new DismountVolumeRequest(volume));
        if (plan.Steps.Count == 0)
        {
            WriteVerbose($"Volume '{plan.Volume.Name}' is not mounted, attached or locked by this host; nothing to do.");
            if (PassThru)
                WriteObject(plan.Volume);
            return;
        }
        if (!ShouldApply(plan))
            return;
        var result = RunWithProgress((progress, token) => mounting.Apply(plan, progress, token));
        if (PassThru)
            WriteObject(result);
    }
}
