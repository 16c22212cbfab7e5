using System.Buffers.Binary;

namespace SparseStorage.Core.Formats;

/// <summary>
/// The fields of a qcow2 header Core needs, read natively (layout: qemu docs/interop/qcow2.txt).
/// All numbers are big-endian. Every field is checked against the limits qemu itself enforces when it opens an image
/// (block/qcow2.c), so a header a tenant crafted is refused with an <see cref="InvalidDataException"/> naming the field.
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
    bool HasExternalDataFile = false,
    bool HasExtendedL2 = false)
{
    public const int MinClusterBits = 9;
    public const int MaxClusterBits = 21;
    public const int MaxSnapshots = 65536;
    public const int MaxBackingFileNameLength = 1023;
    private const int Version2HeaderLength = 72;
    private const int Version3HeaderLength = 104;
    private const ulong MaxL1Entries = 32 * 1024 * 1024 / 8;        // QCOW_MAX_L1_SIZE
    private const ulong MaxRefcountTableBytes = 8 * 1024 * 1024;     // QCOW_MAX_REFTABLE_SIZE
    private const int SnapshotHeaderLength = 40;
    private const uint CryptLuks = 2;
    private const ulong ExternalDataFileFeature = 1UL << 2;
    private const ulong ExtendedL2Feature = 1UL << 4;
    private const ulong KnownIncompatibleFeatures = (1UL << 5) - 1; // dirty, corrupt, data file, compression type, extended L2

    public long ClusterSize => 1L << ClusterBits;

    public static bool HasMagic(ReadOnlySpan<byte> start) =>
        start.Length >= 4 && start[0] == (byte)'Q' && start[1] == (byte)'F' && start[2] == (byte)'I' && start[3] == 0xFB;

    /// <summary>Parses the header from the file's first bytes (at least 512; enough to reach the backing file name and the extensions).</summary>
    public static Qcow2Header Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < Version2HeaderLength || !HasMagic(data))
            throw new InvalidDataException("not a qcow2 image (no QFI\\xfb magic)");
        var version = BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
        if (version is < 2 or > 3)
            throw new InvalidDataException($"unsupported qcow2 version {version}");
        var clusterBits = (int)HeaderField.InRange("qcow2 cluster bits", U32(data, 20), MinClusterBits, MaxClusterBits);
        var clusterSize = 1L << clusterBits;
        var headerLength = HeaderLength(data, version, clusterSize);
        var incompatible = version == 3 ? U64(data, 72) : 0;
        HeaderField.Require((incompatible & ~KnownIncompatibleFeatures) == 0, $"qcow2 incompatible features 0x{incompatible:X} include bits qemu does not know");
        if (version == 3)
            HeaderField.InRange("qcow2 refcount order", U32(data, 96), 0, 6);
        var extendedL2 = (incompatible & ExtendedL2Feature) != 0;
        var virtualSize = (long)HeaderField.InRange("qcow2 virtual size", U64(data, 24), 0, long.MaxValue);
        var cryptMethod = HeaderField.InRange("qcow2 encryption method", U32(data, 32), 0, CryptLuks);
        var l1Needed = L1EntriesFor(virtualSize, clusterSize, extendedL2);
        HeaderField.Require(l1Needed <= MaxL1Entries, $"qcow2 virtual size {virtualSize} needs {l1Needed} L1 entries, more than qemu's {MaxL1Entries}");
        var l1Size = (int)HeaderField.InRange("qcow2 L1 size", U32(data, 36), l1Needed, MaxL1Entries);
        var l1Offset = Table("qcow2 L1 table", U64(data, 40), (ulong)l1Size, 8, clusterSize);
        Table("qcow2 refcount table", U64(data, 48),
            HeaderField.InRange("qcow2 refcount table clusters", U32(data, 56), 0, MaxRefcountTableBytes / (ulong)clusterSize), (ulong)clusterSize, clusterSize);
        var snapshotCount = (int)HeaderField.InRange("qcow2 snapshot count", U32(data, 60), 0, MaxSnapshots);
        var snapshotsOffset = Table("qcow2 snapshot table", U64(data, 64), (ulong)snapshotCount, SnapshotHeaderLength, clusterSize);
        var (backingOffset, backingFile) = ReadBackingFile(data, clusterSize);
        var extensions = Qcow2HeaderExtensions.Read(data, headerLength, backingOffset > 0 ? backingOffset : clusterSize, clusterSize);
        HeaderField.Require(extensions.HasCryptoHeader == (cryptMethod == CryptLuks),
            cryptMethod == CryptLuks ? "qcow2 LUKS encryption without a crypto header extension" : "qcow2 crypto header extension without LUKS encryption");
        return new Qcow2Header(
            Version: (int)version,
            VirtualSize: virtualSize,
            ClusterBits: clusterBits,
            BackingFile: backingFile,
            BackingFormat: extensions.BackingFormat,
            SnapshotCount: snapshotCount,
            SnapshotsOffset: snapshotsOffset,
            IsLuksEncrypted: cryptMethod == CryptLuks,
            L1TableOffset: l1Offset,
            L1Size: l1Size,
            CryptoHeaderOffset: extensions.CryptoHeaderOffset,
            CryptoHeaderLength: extensions.CryptoHeaderLength,
            DataFile: extensions.DataFile,
            HasExternalDataFile: (incompatible & ExternalDataFileFeature) != 0,
            HasExtendedL2: extendedL2);
    }

    private static uint U32(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt32BigEndian(data[offset..]);

    private static ulong U64(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt64BigEndian(data[offset..]);

    /// <summary>Version 2: 72 bytes. Version 3: at least 104, a multiple of 8, within the first cluster and the bytes read.</summary>
    private static int HeaderLength(ReadOnlySpan<byte> data, uint version, long clusterSize)
    {
        if (version == 2)
            return Version2HeaderLength;
        HeaderField.Require(data.Length >= Version3HeaderLength, $"qcow2 v3 header is cut short ({data.Length} of {Version3HeaderLength} bytes)");
        var length = HeaderField.InRange("qcow2 header length", U32(data, 100), Version3HeaderLength, (ulong)Math.Min(clusterSize, data.Length));
        HeaderField.Require(length % 8 == 0, $"qcow2 header length {length} is not a multiple of 8");
        return (int)length;
    }

    /// <summary>L1 entries needed to map the virtual size (qemu refuses an image whose L1 table is smaller).</summary>
    private static ulong L1EntriesFor(long virtualSize, long clusterSize, bool extendedL2)
    {
        var bytesPerL1Entry = (ulong)clusterSize * (ulong)(clusterSize / (extendedL2 ? 16 : 8));
        return ((ulong)virtualSize + bytesPerL1Entry - 1) / bytesPerL1Entry;
    }

    /// <summary>A table's offset: cluster aligned, and the table's end representable (qemu validate_table_offset).</summary>
    private static long Table(string table, ulong offset, ulong entries, ulong entryLength, long clusterSize)
    {
        HeaderField.Require(offset % (ulong)clusterSize == 0, $"{table} offset {offset} is not a multiple of the cluster size {clusterSize}");
        HeaderField.Require(offset <= long.MaxValue - entries * entryLength, $"{table} offset {offset} with {entries} entries runs past the largest file size");
        return (long)offset;
    }

    /// <summary>The backing file name: within the first cluster, at most 1023 bytes (qemu's limits), in the bytes read.</summary>
    private static (long Offset, string? Name) ReadBackingFile(ReadOnlySpan<byte> data, long clusterSize)
    {
        var offset = HeaderField.InRange("qcow2 backing file offset", U64(data, 8), 0, (ulong)clusterSize);
        if (offset == 0)
            return (0, null);
        var length = HeaderField.InRange("qcow2 backing file name length", U32(data, 16), 0, (ulong)Math.Min(MaxBackingFileNameLength, clusterSize - (long)offset));
        if (length == 0)
            return ((long)offset, null);
        return ((long)offset, HeaderField.Name(HeaderField.Slice(data, offset, length, "qcow2 backing file name"), "qcow2 backing file name"));
    }
}
