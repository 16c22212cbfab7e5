using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography;
using System.Text;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// One key of an encrypted volume: a passphrase's UTF-8 bytes or a key file's contents, the same bytes cryptsetup
/// and qemu use. They live in a pinned array that Dispose zeroes; <see cref="Description"/> names the key without
/// revealing it, for messages.
/// </summary>
public sealed class VolumeKey : IDisposable
{
    /// <summary>cryptsetup's default limit for a key file (--keyfile-size).</summary>
    public const int MaximumKeyFileBytes = 8 * 1024 * 1024;

    private readonly byte[] secret;
    private bool disposed;

    private VolumeKey(byte[] secret, string description)
    {
        this.secret = secret;
        Description = description;
    }

    /// <summary>"the passphrase" or "key file /path", never the key itself.</summary>
    public string Description { get; }

    public ReadOnlyMemory<byte> Secret => disposed ? throw new ObjectDisposedException(nameof(VolumeKey)) : secret;

    public static VolumeKey FromPassphrase(SecureString passphrase)
    {
        var unmanaged = Marshal.SecureStringToGlobalAllocUnicode(passphrase);
        var characters = GC.AllocateArray<char>(passphrase.Length, pinned: true);
        try
        {
            Marshal.Copy(unmanaged, characters, 0, characters.Length);
            return FromPassphrase(characters);
        }
        finally
        {
            Marshal.ZeroFreeGlobalAllocUnicode(unmanaged);
            Array.Clear(characters);
        }
    }

    public static VolumeKey FromPassphrase(ReadOnlySpan<char> passphrase)
    {
        if (passphrase.IsEmpty)
            throw new InvalidStorageArgumentException("EmptyPassphrase", "The passphrase is empty.", null);
        var bytes = GC.AllocateArray<byte>(Encoding.UTF8.GetByteCount(passphrase), pinned: true);
        Encoding.UTF8.GetBytes(passphrase, bytes);
        return new VolumeKey(bytes, "the passphrase");
    }

    public static VolumeKey FromFile(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new InvalidStorageArgumentException("KeyFileNotFound", $"Key file {full} does not exist.", full);
        var length = new FileInfo(full).Length;
        if (length is 0 or > MaximumKeyFileBytes)
            throw new InvalidStorageArgumentException("KeyFileSize", $"Key file {full} holds {length} bytes; a key file must hold 1 byte to 8 MiB.", full);
        var bytes = GC.AllocateArray<byte>((int)length, pinned: true);
        int mode;
        using (var file = File.OpenHandle(full))
        {
            RandomAccess.Read(file, bytes, 0);
            mode = (int)File.GetUnixFileMode(file);
        }
        return new VolumeKey(bytes, $"key file {full}") { ExposureWarning = KeyFileExposure.Warning(full, mode, "whoever reads it can open the volume") };
    }

    /// <summary>Why the key file is exposed (its group or everyone may read it), for a warning; null when only its owner may.</summary>
    public string? ExposureWarning { get; private init; }

    /// <summary>
    /// Whether qemu can use the key: it takes LUKS passphrases as UTF-8 text without NUL bytes, so a binary key file
    /// opens only through cryptsetup (dm-crypt), not in userspace.
    /// </summary>
    public bool IsQemuCompatible => !secret.AsSpan().Contains((byte)0) && System.Text.Unicode.Utf8.IsValid(secret);

    /// <summary>Refuses a key that qemu cannot use, before anything is changed.</summary>
    public void RequireQemuCompatible()
    {
        if (!IsQemuCompatible)
            throw new InvalidStorageArgumentException("KeyNotText",
                $"{char.ToUpperInvariant(Description[0])}{Description[1..]} holds binary data; qemu, which opens encrypted volumes in userspace, accepts only keys that are UTF-8 text without NUL bytes. Make key files as text, e.g. openssl rand -base64 48 > key.", null);
    }

    public static string Describe(IEnumerable<VolumeKey> keys) => string.Join(" or ", keys.Select(k => k.Description));

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(secret);
        disposed = true;
    }
}
