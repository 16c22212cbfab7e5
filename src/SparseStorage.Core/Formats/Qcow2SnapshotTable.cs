using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace SparseStorage.Core.Formats;

/// <summary>One entry of a qcow2 image's snapshot table.</summary>
public sealed record Qcow2SnapshotEntry(string Id, string Name, DateTime CreatedUtc, long VmStateSize, long? DiskSize);

/// <summary>
/// Reads the snapshot table natively (qemu docs/interop/qcow2.txt, "Snapshots"): per entry a 40-byte fixed
/// part, extra data (64-bit VM state size, then the disk size), the id and name strings, padded to 8 bytes.
/// </summary>
public static class Qcow2SnapshotTable
{
    private const int FixedPart = 40;
    private const int MaxEntryLength = 64 * 1024 + FixedPart + 2 * ushort.MaxValue;

    public static IReadOnlyList<Qcow2SnapshotEntry> Read(SafeFileHandle image, Qcow2Header header)
    {
        var entries = new List<Qcow2SnapshotEntry>(header.SnapshotCount);
        var buffer = new byte[MaxEntryLength];
        var offset = header.SnapshotsOffset;
        for (var i = 0; i < header.SnapshotCount; i++)
        {
            var read = RandomAccess.Read(image, buffer, offset);
            var (entry, length) = Parse(buffer.AsSpan(0, read));
            entries.Add(entry);
            offset += length;
        }
        return entries;
    }

    /// <summary>Parses one entry and returns it with its padded length.</summary>
    public static (Qcow2SnapshotEntry Entry, int Length) Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < FixedPart)
            throw new InvalidDataException("qcow2 snapshot table ends inside an entry");
        var idLength = BinaryPrimitives.ReadUInt16BigEndian(data[12..]);
        var nameLength = BinaryPrimitives.ReadUInt16BigEndian(data[14..]);
        var seconds = BinaryPrimitives.ReadUInt32BigEndian(data[16..]);
        var vmState = (long)BinaryPrimitives.ReadUInt32BigEndian(data[32..]);
        var extraLength = (int)BinaryPrimitives.ReadUInt32BigEndian(data[36..]);
        var length = FixedPart + extraLength + idLength + nameLength;
        if (length > data.Length)
            throw new InvalidDataException("qcow2 snapshot table ends inside an entry");
        var extra = data.Slice(FixedPart, extraLength);
        if (extra.Length >= 8)
            vmState = (long)BinaryPrimitives.ReadUInt64BigEndian(extra);
        long? diskSize = extra.Length >= 16 ? (long)BinaryPrimitives.ReadUInt64BigEndian(extra[8..]) : null;
        var strings = data[(FixedPart + extraLength)..];
        var entry = new Qcow2SnapshotEntry(
            Encoding.UTF8.GetString(strings[..idLength]),
            Encoding.UTF8.GetString(strings.Slice(idLength, nameLength)),
            DateTime.UnixEpoch.AddSeconds(seconds),
            vmState,
            diskSize);
        return (entry, (length + 7) / 8 * 8);
    }
}
