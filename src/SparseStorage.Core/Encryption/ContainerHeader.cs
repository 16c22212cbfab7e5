using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// The LUKS header of an encrypted volume, wherever it lies: at the start of a raw LUKS image, or inside a qcow2
/// image at the offset its full-disk-encryption header extension names. <see cref="RegionOffset"/> and
/// <see cref="RegionLength"/> span the key material that crypto-erase overwrites.
/// </summary>
public sealed record ContainerHeader(EncryptionContainer Container, LuksHeader Luks, long RegionOffset, long RegionLength)
{
    public static ContainerHeader? Read(string imagePath)
    {
        using var image = Libc.Open(imagePath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        var head = ReadAt(image, 0, LuksHeader.ReadSize);
        if (LuksHeader.HasMagic(head))
            return OfRawLuks(LuksHeader.Parse(head, RandomAccess.GetLength(image)));
        return Qcow2Header.HasMagic(head) ? OfQcow2(image, Qcow2Header.Parse(head)) : null;
    }

    public static ContainerHeader OfRawLuks(LuksHeader luks) =>
        new(luks.Version == 1 ? EncryptionContainer.Luks1 : EncryptionContainer.Luks2, luks, 0, luks.PayloadOffset);

    /// <summary>
    /// The LUKS header embedded in an encrypted qcow2 image; null when the image is not encrypted with LUKS. Its region
    /// must lie inside the image file, and its payload offset inside the region, so crypto-erase stays within the file.
    /// </summary>
    public static ContainerHeader? OfQcow2(SafeFileHandle image, Qcow2Header qcow2)
    {
        if (!qcow2.IsLuksEncrypted || qcow2.CryptoHeaderLength <= 0)
            return null;
        var imageLength = RandomAccess.GetLength(image);
        if (qcow2.CryptoHeaderOffset < 0 || qcow2.CryptoHeaderOffset > imageLength - qcow2.CryptoHeaderLength)
            throw new InvalidDataException(
                $"qcow2 crypto header (offset {qcow2.CryptoHeaderOffset}, {qcow2.CryptoHeaderLength} bytes) lies beyond the end of the image ({imageLength} bytes)");
        var embedded = LuksHeader.Parse(ReadAt(image, qcow2.CryptoHeaderOffset, (int)Math.Min(LuksHeader.ReadSize, qcow2.CryptoHeaderLength)),
            qcow2.CryptoHeaderLength);
        return new ContainerHeader(EncryptionContainer.Qcow2Luks, embedded, qcow2.CryptoHeaderOffset, qcow2.CryptoHeaderLength);
    }

    /// <summary>"LUKS1 aes-xts-plain64" or "qcow2 LUKS1 aes-xts-plain64", as Get-SparseVolume shows it.</summary>
    public string Describe() => (Container == EncryptionContainer.Qcow2Luks ? "qcow2 " : "") + $"LUKS{Luks.Version} {Luks.Cipher}";

    private static byte[] ReadAt(SafeFileHandle image, long offset, int count)
    {
        var buffer = new byte[count];
        return buffer[..RandomAccess.Read(image, buffer, offset)];
    }
}
