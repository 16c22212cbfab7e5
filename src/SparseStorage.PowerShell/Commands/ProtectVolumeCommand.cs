using System.Management.Automation;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Planning;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Protect-Volume: encrypts a volume at rest (LUKS), keeping its filesystem and data; the plain image is replaced only after the encrypted one is verified.</summary>
[Cmdlet(VerbsSecurity.Protect, "Volume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(SparseVolume))]
public sealed class ProtectVolumeCommand : EncryptedVolumeCmdlet
{
    /// <summary>Luks1 (raw, opens also in userspace), Luks2 (raw, needs device-mapper) or Qcow2Luks (qcow2 volumes). Default: see Get-StorageHost DefaultEncryption.</summary>
    [Parameter]
    public EncryptionContainer? Container { get; set; }

    /// <summary>Milliseconds of key derivation (PBKDF) per unlock; longer resists guessing better.</summary>
    [Parameter]
    [ValidateRange(100, 60000)]
    public int IterationTime { get; set; } = 2000;

    /// <summary>Overwrite the old plaintext image's data with zeros once the encrypted image has replaced it.</summary>
    [Parameter]
    public SwitchParameter WipePlaintext { get; set; }

    /// <summary>Write the protected volume.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            IPlannedOperation<ProtectVolumeRequest, ProtectVolumePlan, SparseVolume> protector = CephVolumeProtection.Handles(volume) ? new CephVolumeProtection(Context) : new VolumeProtector(Context);
            var plan = protector.Plan(new ProtectVolumeRequest(volume, Keys(volume.Name, confirm: true), Container, IterationTime, WipePlaintext));
            if (!ShouldApply(plan))
                return;
            var result = RunWithProgress((progress, token) => protector.Apply(plan, progress, token));
            if (PassThru)
                WriteObject(result);
        }, VolumeTarget);
}
