using System.Management.Automation;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Planning;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Remove-VolumeKey: removes the key slots that -Passphrase and -KeyFile open; the last key only with -AllowLastKeyRemoval.</summary>
[Cmdlet(VerbsCommon.Remove, "VolumeKey", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(SparseVolume))]
public sealed class RemoveVolumeKeyCommand : EncryptedVolumeCmdlet
{
    /// <summary>Allow removing the last key, which makes the volume's data unreadable for ever.</summary>
    [Parameter]
    public SwitchParameter AllowLastKeyRemoval { get; set; }

    /// <summary>Skip the confirmation prompt (and nothing else).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write the volume with its remaining slot count.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            IPlannedOperation<RemoveVolumeKeyRequest, RemoveVolumeKeyPlan, SparseVolume> keys = CephVolumeKeys.Handles(volume) ? new CephVolumeKeys(Context) : new VolumeKeyManager(Context);
            var plan = keys.Plan(new RemoveVolumeKeyRequest(volume, Keys(volume.Name), AllowLastKeyRemoval));
            if (!ShouldApply(plan))
                return;
            var result = RunWithProgress((progress, token) => keys.Apply(plan, progress, token));
            if (PassThru)
                WriteObject(result);
        }, VolumeTarget);
}
