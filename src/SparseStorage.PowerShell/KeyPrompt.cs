using System.Management.Automation.Host;
using SparseStorage.Core.Encryption;

namespace SparseStorage.PowerShell;

/// <summary>Asks for a passphrase on the host without echo; a new passphrase is asked twice and must match.</summary>
internal static class KeyPrompt
{
    public static VolumeKey Read(PSHostUserInterface ui, string prompt, bool confirm)
    {
        ui.Write($"{prompt}: ");
        var first = ui.ReadLineAsSecureString();
        var key = VolumeKey.FromPassphrase(first);
        if (!confirm)
            return key;
        ui.Write($"{prompt} (again): ");
        using var second = VolumeKey.FromPassphrase(ui.ReadLineAsSecureString());
        if (key.Secret.Span.SequenceEqual(second.Secret.Span))
            return key;
        key.Dispose();
        throw new InvalidStorageArgumentException("PassphraseMismatch", "The two passphrases differ; nothing was changed.", null);
    }
}
