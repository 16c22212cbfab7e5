using System.Buffers.Binary;
using System.Text;

namespace SparseStorage.Core.Formats;

/// <summary>
/// The fields of a qcow2 header Core needs, read natively (layout: qemu docs/interop/qcow2.txt).
/// All numbers are big-endian.
/// </summary>
public sealed record Qcow2Header(
    int Version,
    long VirtualSize,
    int ClusterBits,
    string? BackingFile,
    string? BackingFormat,
    int SnapshotCount,
    long SnapshotsOffset,
    bool IsLuksEncrypted,
    long L1TableOffset,
    int L1Size,
    long CryptoHeaderOffset = 0,
    long CryptoHeaderLength = 0,
    string? DataFile = null,
    bool HasExternalDataFile = false)
{
    private const uint DataFileNameExtension = 0x44415441;
    private const ulong ExternalDataFileFeature = 1UL << 2;
    private const uint BackingFormatExtension = 0xE2792ACA;
    private const uint FullDiskEncryptionExtension = 0x0537BE77;
    private const uint EndOfExtensions = 0;

    public long ClusterSize => 1L << ClusterBits;

    public static bool HasMagic(ReadOnlySpan<byte> start) =>
        start.Length >= 4 && start[0] == (byte)'Q' && start[1] == (byte)'F' && start[2] == (byte)'I' && start[3] == 0xFB;

    /// <summary>Parses the header from the file's first bytes (at least 512; more to reach the backing file name).</summary>
    public static Qcow2Header Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < 72 || !HasMagic(data))
            throw new InvalidDataException("not a qcow2 image (no QFI\\xfb magic)");
        var version = (int)BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
        if (version is < 2 or > 3)
            throw new InvalidDataException($"unsupported qcow2 version {version}");
        var backingOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(data[8..]);
        var backingLength = (int)BinaryPrimitives.ReadUInt32BigEndian(data[16..]);
        var headerLength = version == 3 && data.Length >= 104 ? (int)BinaryPrimitives.ReadUInt32BigEndian(data[100..]) : 72;
        var crypto = FindExtension(data, headerLength, FullDiskEncryptionExtension);
        var incompatible = version == 3 && data.Length >= 80 ? BinaryPrimitives.ReadUInt64BigEndian(data[72..]) : 0;
        return new Qcow2Header(
            Version: version,
            VirtualSize: (long)BinaryPrimitives.ReadUInt64BigEndian(data[24..]),
            ClusterBits: (int)BinaryPrimitives.ReadUInt32BigEndian(data[20..]),
            BackingFile: ReadString(data, backingOffset, backingLength),
            BackingFormat: FindExtension(data, headerLength, BackingFormatExtension) is { } format ? Encoding.UTF8.GetString(format) : null,
            SnapshotCount: (int)BinaryPrimitives.ReadUInt32BigEndian(data[60..]),
            SnapshotsOffset: (long)BinaryPrimitives.ReadUInt64BigEndian(data[64..]),
            IsLuksEncrypted: BinaryPrimitives.ReadUInt32BigEndian(data[32..]) == 2,
            L1TableOffset: (long)BinaryPrimitives.ReadUInt64BigEndian(data[40..]),
            L1Size: (int)BinaryPrimitives.ReadUInt32BigEndian(data[36..]),
            CryptoHeaderOffset: crypto is { Length: >= 16 } ? (long)BinaryPrimitives.ReadUInt64BigEndian(crypto) : 0,
            CryptoHeaderLength: crypto is { Length: >= 16 } ? (long)BinaryPrimitives.ReadUInt64BigEndian(crypto.AsSpan(8)) : 0,
            DataFile: FindExtension(data, headerLength, DataFileNameExtension) is { } dataFile ? Encoding.UTF8.GetString(dataFile) : null,
            HasExternalDataFile: (incompatible & ExternalDataFileFeature) != 0);
    }

    private static string? ReadString(ReadOnlySpan<byte> data, long offset, int length) =>
        offset > 0 && length > 0 && offset + length <= data.Length
            ? Encoding.UTF8.GetString(data.Slice((int)offset, length))
            : null;

    private static byte[]? FindExtension(ReadOnlySpan<byte> data, int position, uint wanted)
    {
        while (position + 8 <= data.Length)
        {
            var type = BinaryPrimitives.ReadUInt32BigEndian(data[position..]);
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(data[(position + 4)..]);
            if (type == EndOfExtensions || position + 8 + length > data.Length)
                return null;
            if (type == wanted)
                return data.Slice(position + 8, length).ToArray();
            position += 8 + (length + 7) / 8 * 8;
        }
        return null;
    }
}
