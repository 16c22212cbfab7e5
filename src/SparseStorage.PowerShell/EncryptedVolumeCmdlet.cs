using System.Management.Automation;
using System.Security;
using SparseStorage.Core.Encryption;

namespace SparseStorage.PowerShell;

/// <summary>
/// A volume cmdlet that takes a key: -Passphrase as a SecureString, -KeyFile, or both (each is tried, or each gets a
/// slot). With neither, the passphrase is prompted for without echo. Keys are zeroed when the command ends.
/// </summary>
public abstract class EncryptedVolumeCmdlet : VolumeCmdlet
{
    private readonly List<VolumeKey> keys = [];

    /// <summary>The passphrase, as a SecureString (Read-Host -AsSecureString); prompted for when neither it nor -KeyFile is given.</summary>
    [Parameter]
    public SecureString? Passphrase { get; set; }

    /// <summary>A file whose whole contents are the key (UTF-8 text for volumes opened in userspace).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? KeyFile { get; set; }

    /// <summary>The given keys, or a prompted passphrase (asked twice when <paramref name="confirm"/>, for a new key).</summary>
    protected IReadOnlyList<VolumeKey> Keys(string volumeName, bool confirm = false)
    {
        if (keys.Count > 0)
            return keys;
        if (Passphrase is not null)
            keys.Add(VolumeKey.FromPassphrase(Passphrase));
        if (KeyFile is not null)
            keys.Add(KeyFromFile(KeyFile));
        if (keys.Count == 0)
            keys.Add(KeyPrompt.Read(Host.UI, $"Passphrase for {volumeName}", confirm));
        return keys;
    }

    /// <summary>Reads a key file, warning when others than its owner may read it.</summary>
    protected VolumeKey KeyFromFile(string path)
    {
        var key = VolumeKey.FromFile(ProviderPath(path));
        if (key.ExposureWarning is not null)
            WriteWarning(key.ExposureWarning);
        return key;
    }

    protected override void EndProcessing()
    {
        ForgetKeys();
        base.EndProcessing();
    }

    protected override void StopProcessing()
    {
        ForgetKeys();
        base.StopProcessing();
    }

    private void ForgetKeys()
    {
        foreach (var key in keys)
            key.Dispose();
        keys.Clear();
    }
}
