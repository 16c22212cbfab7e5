using System.Buffers.Binary;
using System.Text;

namespace SparseStorage.Core.Backups;

/// <summary>
/// Writes an RBD diff in the format <c>rbd export-diff</c> writes and <see cref="RbdDiffReader"/> and
/// <c>rbd import-diff</c> read ("rbd diff v1"): the header line, 'f' and 't' (snapshot names, u32 length + bytes),
/// 's' (image size), then 'w' (offset, length, data) and 'z' (offset, length) records in rising, non-overlapping
/// order, and 'e'. Integers are little-endian. The writer holds itself to what the reader accepts, so a diff it
/// wrote is never refused on restore.
/// </summary>
internal sealed class RbdDiffWriter(Stream output)
{
    private long? size;
    private long end;
    private bool ended;

    /// <summary>The header line, the snapshot names (<paramref name="fromSnapshot"/> null for a diff from nothing) and the image size.</summary>
    public void Begin(string? fromSnapshot, string? toSnapshot, long sizeBytes)
    {
        if (size is not null)
            throw new InvalidOperationException("The diff has begun already.");
        ArgumentOutOfRangeException.ThrowIfNegative(sizeBytes);
        output.Write(Encoding.ASCII.GetBytes(RbdDiffReader.Magic));
        if (fromSnapshot is not null)
            WriteName('f', fromSnapshot);
        if (toSnapshot is not null)
            WriteName('t', toSnapshot);
        Span<byte> record = stackalloc byte[9];
        record[0] = (byte)'s';
        BinaryPrimitives.WriteUInt64LittleEndian(record[1..], (ulong)sizeBytes);
        output.Write(record);
        size = sizeBytes;
    }

    /// <summary>A data record: <paramref name="bytes"/> at <paramref name="offset"/>.</summary>
    public void Data(long offset, ReadOnlySpan<byte> bytes)
    {
        WriteExtent('w', offset, bytes.Length);
        output.Write(bytes);
    }

    /// <summary>A zero record: the range reads as zeros from this diff on.</summary>
    public void Zero(long offset, long length) => WriteExtent('z', offset, length);

    public void End()
    {
        RequireBegun();
        output.WriteByte((byte)'e');
        ended = true;
    }

    private void WriteExtent(char tag, long offset, long length)
    {
        var imageSize = RequireBegun();
        if (length <= 0 || offset < end || offset > imageSize || length > imageSize - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"A diff record at {offset}+{length} must be non-empty, inside the image's {imageSize} bytes and after the record before it (which ends at {end}).");
        Span<byte> record = stackalloc byte[17];
        record[0] = (byte)tag;
        BinaryPrimitives.WriteUInt64LittleEndian(record[1..], (ulong)offset);
        BinaryPrimitives.WriteUInt64LittleEndian(record[9..], (ulong)length);
        output.Write(record);
        end = offset + length;
    }

    private void WriteName(char tag, string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name);
        if (bytes.Length is 0 or > RbdDiffReader.MaxNameBytes || name.Any(char.IsControl))
            throw new ArgumentException($"A snapshot name in a diff must be 1 to {RbdDiffReader.MaxNameBytes} bytes without control characters.", nameof(name));
        Span<byte> record = stackalloc byte[5];
        record[0] = (byte)tag;
        BinaryPrimitives.WriteUInt32LittleEndian(record[1..], (uint)bytes.Length);
        output.Write(record);
        output.Write(bytes);
    }

    private long RequireBegun() =>
        ended ? throw new InvalidOperationException("The diff has ended.")
        : size ?? throw new InvalidOperationException("The diff has not begun: its header and size come first.");
}
