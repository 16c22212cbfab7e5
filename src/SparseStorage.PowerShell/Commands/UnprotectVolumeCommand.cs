using System.Management.Automation;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Planning;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Unprotect-Volume: decrypts a locked volume back to a plain image of the same format, verified before it replaces the encrypted one.</summary>
[Cmdlet(VerbsSecurity.Unprotect, "Volume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(SparseVolume))]
public sealed class UnprotectVolumeCommand : EncryptedVolumeCmdlet
{
    /// <summary>Write the decrypted volume.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            IPlannedOperation<UnprotectVolumeRequest, UnprotectVolumePlan, SparseVolume> unprotector = CephVolumeProtection.Handles(volume) ? new CephVolumeProtection(Context) : new VolumeUnprotector(Context);
            var plan = unprotector.Plan(new UnprotectVolumeRequest(volume, Keys(volume.Name)));
            if (!ShouldApply(plan))
                return;
            var result = RunWithProgress((progress, token) => unprotector.Apply(plan, progress, token));
            if (PassThru)
                WriteObject(result);
        }, VolumeTarget);
}
