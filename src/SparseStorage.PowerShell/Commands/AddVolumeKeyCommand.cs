using System.Management.Automation;
using System.Security;
using SparseStorage.Core.Encryption;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Add-VolumeKey: adds a key slot to an encrypted volume; -Passphrase or -KeyFile is a key it already has.</summary>
[Cmdlet(VerbsCommon.Add, "VolumeKey", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SparseVolume))]
public sealed class AddVolumeKeyCommand : EncryptedVolumeCmdlet
{
    /// <summary>The new passphrase; prompted for (twice) when neither it nor -NewKeyFile is given. Given both, each gets a slot.</summary>
    [Parameter]
    public SecureString? NewPassphrase { get; set; }

    /// <summary>A file whose contents become the new key.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NewKeyFile { get; set; }

    /// <summary>Milliseconds of key derivation (PBKDF) for the new slot.</summary>
    [Parameter]
    [ValidateRange(100, 60000)]
    public int IterationTime { get; set; } = 2000;

    /// <summary>Write the volume with its new slot count.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            if (!ShouldProcess(volume.Path, $"Add a key slot ({volume.Encryption}, {volume.KeySlotCount} active)"))
                return;
            var existing = Keys(volume.Name);
            var newKeys = new List<VolumeKey>();
            try
            {
                if (NewPassphrase is not null)
                    newKeys.Add(VolumeKey.FromPassphrase(NewPassphrase));
                if (NewKeyFile is not null)
                    newKeys.Add(KeyFromFile(NewKeyFile));
                if (newKeys.Count == 0)
                    newKeys.Add(KeyPrompt.Read(Host.UI, $"New passphrase for {volume.Name}", confirm: true));
                var result = volume;
                foreach (var newKey in newKeys)
                    result = RunWithProgress((_, token) => new VolumeKeyManager(Context).Add(result, existing, newKey, IterationTime, token));
                if (PassThru)
                    WriteObject(result);
            }
            finally
            {
                newKeys.ForEach(k => k.Dispose());
            }
        }, VolumeTarget);
}
