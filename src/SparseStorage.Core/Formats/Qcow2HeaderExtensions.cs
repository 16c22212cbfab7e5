using System.Buffers.Binary;

namespace SparseStorage.Core.Formats;

/// <summary>
/// The header extensions of a qcow2 image that Core reads (qemu docs/interop/qcow2.txt, "Header extensions"), walked
/// once with qemu's rules: each extension lies inside the extension area, which ends at the backing file name or at
/// the end of the first cluster; each known extension appears at most once (qemu keeps the last of a repeated one, the
/// module would see the first, so a repeat is refused).
/// </summary>
internal sealed record Qcow2HeaderExtensions(string? BackingFormat, string? DataFile, long CryptoHeaderOffset, long CryptoHeaderLength)
{
    private const uint EndOfExtensions = 0;
    private const uint BackingFormatExtension = 0xE2792ACA;
    private const uint FullDiskEncryptionExtension = 0x0537BE77;
    private const uint DataFileNameExtension = 0x44415441;
    private const int BackingFormatMaxLength = 15; // qemu: char backing_format[16]
    private const int NameMaxLength = 4095;        // PATH_MAX less its NUL

    /// <summary>Reads the extensions between <paramref name="start"/> and <paramref name="end"/> (both within the first cluster).</summary>
    public static Qcow2HeaderExtensions Read(ReadOnlySpan<byte> data, long start, long end, long clusterSize)
    {
        var found = new Dictionary<uint, (int Offset, int Length)>();
        var position = start;
        // Every pass advances by at least 8 bytes and end is at most one cluster (2 MiB): bounded.
        while (position + 8 <= end)
        {
            var header = HeaderField.Slice(data, (ulong)position, 8, "qcow2 header extension");
            var type = BinaryPrimitives.ReadUInt32BigEndian(header);
            if (type == EndOfExtensions)
                break;
            var length = (ulong)BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
            HeaderField.Require(length <= (ulong)(end - position - 8),
                $"qcow2 header extension 0x{type:X8} length {length} runs past the end of the extension area at {end}");
            HeaderField.Slice(data, (ulong)position + 8, length, $"qcow2 header extension 0x{type:X8} of length {length}");
            HeaderField.Require(found.TryAdd(type, ((int)position + 8, (int)length)) || !IsKnown(type),
                $"qcow2 header extension 0x{type:X8} appears more than once");
            position += 8 + (long)((length + 7) & ~7UL);
        }
        var (cryptoOffset, cryptoLength) = found.TryGetValue(FullDiskEncryptionExtension, out var crypto)
            ? CryptoHeader(data.Slice(crypto.Offset, crypto.Length), clusterSize)
            : (0L, 0L);
        return new Qcow2HeaderExtensions(
            Text(data, found, BackingFormatExtension, BackingFormatMaxLength, "qcow2 backing format"),
            Text(data, found, DataFileNameExtension, NameMaxLength, "qcow2 external data file name"),
            cryptoOffset, cryptoLength);
    }

    public bool HasCryptoHeader => CryptoHeaderLength > 0;

    private static bool IsKnown(uint type) => type is BackingFormatExtension or FullDiskEncryptionExtension or DataFileNameExtension;

    private static string? Text(ReadOnlySpan<byte> data, Dictionary<uint, (int Offset, int Length)> found, uint type, int maxLength, string field)
    {
        if (!found.TryGetValue(type, out var extension))
            return null;
        HeaderField.InRange($"{field} length", (ulong)extension.Length, 1, (ulong)maxLength);
        return HeaderField.Name(data.Slice(extension.Offset, extension.Length), field);
    }

    /// <summary>Offset and length of the LUKS header inside the image: 16 bytes, cluster aligned, not the qcow2 header's cluster.</summary>
    private static (long Offset, long Length) CryptoHeader(ReadOnlySpan<byte> extension, long clusterSize)
    {
        HeaderField.Require(extension.Length == 16, $"qcow2 crypto header extension length {extension.Length} is not 16");
        var offset = BinaryPrimitives.ReadUInt64BigEndian(extension);
        var length = BinaryPrimitives.ReadUInt64BigEndian(extension[8..]);
        HeaderField.InRange("qcow2 crypto header offset", offset, (ulong)clusterSize, long.MaxValue);
        HeaderField.Require(offset % (ulong)clusterSize == 0, $"qcow2 crypto header offset {offset} is not a multiple of the cluster size {clusterSize}");
        HeaderField.InRange("qcow2 crypto header length", length, 1, long.MaxValue - offset);
        return ((long)offset, (long)length);
    }
}
