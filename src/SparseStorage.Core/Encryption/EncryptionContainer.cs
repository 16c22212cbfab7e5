namespace SparseStorage.Core.Encryption;

/// <summary>How an encrypted volume's image holds its data.</summary>
// Backed by long so that ConvertTo-Json writes the name, not a number (docs/json.md).
public enum EncryptionContainer : long
{
    /// <summary>A raw LUKS1 image: cryptsetup and dm-crypt open it, and so does qemu (userspace unlock).</summary>
    Luks1,
    /// <summary>A raw LUKS2 image: only dm-crypt opens it.</summary>
    Luks2,
    /// <summary>A qcow2 image with encrypt.format=luks: only qemu opens it; unallocated clusters stay thin and read as zeros.</summary>
    Qcow2Luks,
}

/// <summary>How an encrypted volume is opened on this host.</summary>
// Backed by long so that ConvertTo-Json writes the name, not a number (docs/json.md).
public enum UnlockMethod : long
{
    /// <summary>qemu-storage-daemon decrypts and exports the plaintext through FUSE; a loop device attaches it.</summary>
    Userspace,
    /// <summary>cryptsetup open maps the plaintext at /dev/mapper (needs device-mapper).</summary>
    DmCrypt,
}
