using System.Management.Automation;
using SparseStorage.Core.Encryption;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Remove-VolumeKey: removes the key slots that -Passphrase and -KeyFile open; the last key only with -Force.</summary>
[Cmdlet(VerbsCommon.Remove, "VolumeKey", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(SparseVolume))]
public sealed class RemoveVolumeKeyCommand : EncryptedVolumeCmdlet
{
    /// <summary>Allow removing the last key, which makes the data unreadable for ever, and skip the confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write the volume with its remaining slot count.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            if (!ShouldProcessUnlessForced(Force, volume.Path, $"Remove a key slot ({volume.KeySlotCount} active{(volume.KeySlotCount <= 1 ? "; this is the last key: the data becomes unreadable" : "")})"))
                return;
            var result = volume;
            foreach (var key in Keys(volume.Name))
                result = RunWithProgress((_, token) => new VolumeKeyManager(Context).Remove(result, key, Force, token));
            if (PassThru)
                WriteObject(result);
        }, VolumeTarget);
}
