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
            var plan = unprotector.Plan(new UnprotectVolumeRequest(volume, Keys(volume.Name)));
            if (!ShouldApply(plan))
                return;
            var result = RunWithProgress((progress, token) => unprotector.Apply(plan, progress, token));
            if (PassThru)
                WriteObject(result);
        }, VolumeTarget);
}
