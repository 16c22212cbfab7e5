using System.Security.Cryptography;

namespace SparseStorage.Core.Backups;

/// <summary>
/// The operator's key for HMAC-SHA256 signatures on backup manifests, read from a file (its bytes as they are). Only
/// the file's path ever appears in messages; the key itself never leaves this object.
/// </summary>
public sealed class BackupIntegrityKey
{
    public const int MinimumBytes = 16;
    private const int MaximumBytes = 64 << 10;

    private readonly byte[] key;

    private BackupIntegrityKey(string path, byte[] key, string? exposure) => (Path, this.key, Exposure) = (path, key, exposure);

    public string Path { get; }

    /// <summary>Why the key file is readable by more than its owner (a warning for the operator), or null.</summary>
    public string? Exposure { get; }

    public static BackupIntegrityKey Load(string path)
    {
        using var file = UntrustedFile.OpenRegular(path, "integrity key file");
        if (file.Size is < MinimumBytes or > MaximumBytes)
            throw new InvalidStorageArgumentException("InvalidIntegrityKey",
                $"The integrity key file '{path}' holds {file.Size} bytes; a key holds {MinimumBytes} bytes to 64 KiB (e.g. 'head -c 32 /dev/urandom > key; chmod 600 key').", path);
        var key = new byte[file.Size];
        if (RandomAccess.Read(file.Handle, key, 0) != key.Length)
            throw new IOException($"{path}: the integrity key file changed while it was read");
        var exposure = Encryption.KeyFileExposure.Warning(path, file.Permissions, "whoever reads or changes it can forge backup sets");
        return new BackupIntegrityKey(path, key, exposure);
    }

    /// <summary>HMAC-SHA256 of the bytes, lower-case hex.</summary>
    public string Sign(ReadOnlySpan<byte> data) => Convert.ToHexString(HMACSHA256.HashData(key, data)).ToLowerInvariant();

    /// <summary>Whether <paramref name="signature"/> is this key's HMAC of the bytes (compared in constant time).</summary>
    public bool Verifies(ReadOnlySpan<byte> data, string signature) =>
        CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(Sign(data)), System.Text.Encoding.ASCII.GetBytes(signature));
}
