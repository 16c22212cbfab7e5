using System.Management.Automation;
using SparseStorage.Core.Encryption;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Unprotect-Volume: decrypts a locked volume back to a plain image of the same format, verified before it replaces the encrypted one.</summary>
[Cmdlet(VerbsSecurity.Unprotect, "Volume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(SparseVolume))]
public sealed class UnprotectVolumeCommand : EncryptedVolumeCmdlet
{
    /// <summary>Write the decrypted volume.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            var unprotector = new VolumeUnprotector(Context);
            if (!ShouldProcessSteps(volume.Path, unprotector.Plan(volume), "Decrypt volume"))
                return;
            var keys = Keys(volume.Name);
            var result = RunWithProgress((progress, token) => unprotector.Unprotect(volume, keys, progress, token));
            if (PassThru)
                WriteObject(result);
        }, VolumeTarget);
}
