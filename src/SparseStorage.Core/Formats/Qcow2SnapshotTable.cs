using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace SparseStorage.Core.Formats;

/// <summary>One entry of a qcow2 image's snapshot table.</summary>
public sealed record Qcow2SnapshotEntry(string Id, string Name, DateTime CreatedUtc, long VmStateSize, long? DiskSize);

/// <summary>
/// Reads the snapshot table natively (qemu docs/interop/qcow2.txt, "Snapshots"): per entry a 40-byte fixed
/// part, extra data (64-bit VM state size, then the disk size), the id and name strings, padded to 8 bytes.
/// Bounded by qemu's own limits: at most 65536 entries, 1 KiB of extra data each, 64 MiB for the whole table.
/// </summary>
public static class Qcow2SnapshotTable
{
    private const int FixedPart = 40;
    private const int MaxExtraData = 1024;                  // QCOW_MAX_SNAPSHOT_EXTRA_DATA
    private const long MaxTableLength = 64L * 1024 * 1024;  // QCOW_MAX_SNAPSHOTS_SIZE
    private const int MaxEntryLength = FixedPart + MaxExtraData + 2 * ushort.MaxValue + 7;
    private const int WindowLength = 2 * MaxEntryLength;

    public static IReadOnlyList<Qcow2SnapshotEntry> Read(SafeFileHandle image, Qcow2Header header)
    {
        var count = (int)HeaderField.InRange("qcow2 snapshot count", (ulong)Math.Max(header.SnapshotCount, 0), 0, Qcow2Header.MaxSnapshots);
        var entries = new List<Qcow2SnapshotEntry>(count);
        var rented = ArrayPool<byte>.Shared.Rent(WindowLength);
        try
        {
            var window = rented.AsSpan(0, WindowLength);
            long windowStart = 0, tableLength = 0;
            var windowFilled = -1;
            var offset = header.SnapshotsOffset;
            for (var i = 0; i < count; i++)
            {
                // Refill only when the next entry might not fit in what was read: each refill moves on by at least
                // WindowLength - MaxEntryLength bytes, or the window already reaches the end of the file.
                if (windowFilled < 0 || offset + MaxEntryLength > windowStart + windowFilled && windowFilled == WindowLength)
                    (windowStart, windowFilled) = (offset, RandomAccess.Read(image, window, offset));
                var relative = (int)Math.Min(offset - windowStart, windowFilled); // past the end of the file: nothing left to parse
                var (entry, length) = Parse(window[relative..windowFilled]);
                tableLength += length;
                HeaderField.Require(tableLength <= MaxTableLength, $"qcow2 snapshot table is longer than {MaxTableLength} bytes at entry {i}");
                entries.Add(entry);
                offset += length;
            }
            return entries;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
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
        var extraLength = (int)HeaderField.InRange("qcow2 snapshot extra data length", BinaryPrimitives.ReadUInt32BigEndian(data[36..]), 0, MaxExtraData);
        var length = FixedPart + extraLength + idLength + nameLength;
        if (length > data.Length)
            throw new InvalidDataException("qcow2 snapshot table ends inside an entry");
        var extra = data.Slice(FixedPart, extraLength);
        if (extra.Length >= 8)
            vmState = (long)HeaderField.InRange("qcow2 snapshot VM state size", BinaryPrimitives.ReadUInt64BigEndian(extra), 0, long.MaxValue);
        long? diskSize = extra.Length >= 16
            ? (long)HeaderField.InRange("qcow2 snapshot disk size", BinaryPrimitives.ReadUInt64BigEndian(extra[8..]), 0, long.MaxValue)
            : null;
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
