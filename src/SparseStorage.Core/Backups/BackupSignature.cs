namespace SparseStorage.Core.Backups;

/// <summary>How a set's manifest.hmac is checked: against which key, and whether a set without one is let through.</summary>
public sealed record BackupSignaturePolicy(BackupIntegrityKey Key, bool AllowUnsigned);

/// <summary>
/// manifest.hmac beside a set's manifest: "hmac-sha256:" and the HMAC-SHA256 of manifest.json's exact bytes under the
/// operator's key. The manifest lists every block's SHA-256 and its parent's checksum, so the signature covers the
/// set's data and its whole chain; unlike manifest.sha256, it cannot be recomputed without the key.
/// </summary>
public static class BackupSignature
{
    public const string FileName = "manifest.hmac";
    private const string Prefix = "hmac-sha256:";

    public static bool IsSigned(string setDirectory) => File.Exists(Path.Combine(setDirectory, FileName));

    public static void Write(string setDirectory, ReadOnlySpan<byte> manifest, BackupIntegrityKey key)
    {
        using var file = new FileStream(Path.Combine(setDirectory, FileName), FileMode.CreateNew, FileAccess.Write);
        file.Write(System.Text.Encoding.ASCII.GetBytes(Prefix + key.Sign(manifest) + "\n"));
        file.Flush(flushToDisk: true);
    }

    /// <summary>Refuses the manifest's bytes unless the key's signature is beside them (or unsigned sets are allowed and there is none).</summary>
    public static void Require(string setDirectory, ReadOnlySpan<byte> manifest, BackupSignaturePolicy policy)
    {
        var path = Path.Combine(setDirectory, FileName);
        if (!File.Exists(path))
        {
            if (policy.AllowUnsigned)
                return;
            throw new BackupIntegrityException("BackupNotSigned",
                $"The backup set {setDirectory} has no {FileName}: it was made without an integrity key, or its signature was removed. Nothing was restored; use -AllowUnsigned to restore an unsigned set knowingly.", setDirectory);
        }
        var text = System.Text.Encoding.ASCII.GetString(UntrustedFile.ReadAll(path, "backup signature", 4096)).Trim();
        if (!text.StartsWith(Prefix, StringComparison.Ordinal) || !policy.Key.Verifies(manifest, text[Prefix.Length..]))
            throw new BackupIntegrityException("BackupSignatureInvalid",
                $"The signature of backup set {setDirectory} does not verify with the key in '{policy.Key.Path}': the set was changed after it was made, or signed with another key. Nothing was restored.", setDirectory);
    }
}
