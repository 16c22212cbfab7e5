using System.Management.Automation;
using System.Security;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Planning;

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

    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            var existing = Keys(volume.Name);
            var newKeys = new List<VolumeKey>();
            try
            {
                AddNewKeys(newKeys, volume.Name);
                IPlannedOperation<AddVolumeKeyRequest, AddVolumeKeyPlan, SparseVolume> manager = CephVolumeKeys.Handles(volume) ? new CephVolumeKeys(Context) : new VolumeKeyManager(Context);
                var plan = manager.Plan(new AddVolumeKeyRequest(volume, existing, newKeys, IterationTime));
                if (!ShouldApply(plan))
                    return;
                var result = RunWithProgress((progress, token) => manager.Apply(plan, progress, token));
                if (PassThru)
                    WriteObject(result);
            }
            finally
            {
                foreach (var key in newKeys)
                    key.Dispose();
            }
        }, VolumeTarget);

    /// <summary>The keys to add: -NewPassphrase, -NewKeyFile, or a new passphrase asked twice.</summary>
    private void AddNewKeys(List<VolumeKey> newKeys, string volumeName)
    {
        if (NewPassphrase is not null)
            newKeys.Add(VolumeKey.FromPassphrase(NewPassphrase));
        if (NewKeyFile is not null)
            newKeys.Add(KeyFromFile(NewKeyFile));
        if (newKeys.Count == 0)
            newKeys.Add(KeyPrompt.Read(Host.UI, $"New passphrase for {volumeName}", confirm: true));
    }
}
