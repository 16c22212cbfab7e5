using System.Buffers.Binary;
using System.Text;

namespace SparseStorage.Core.Backups;

/// <summary>What an RBD diff's data and zero records are applied to.</summary>
public interface IRbdDiffSink
{
    /// <summary>The image's size from the diff's size record ('s'), before any data; a later size shrinks or grows the image.</summary>
    void Resize(long sizeBytes);

    /// <summary>Whether the bytes of a data record at [offset, offset + length) are wanted; unwanted ones are skipped (seeked over when the input can seek).</summary>
    bool Wants(long offset, long length) => true;

    /// <summary>Bytes of a data record ('w'), in chunks of at most 1 MiB, offsets rising.</summary>
    void Data(long offset, ReadOnlySpan<byte> bytes);

    /// <summary>A range the image reads as zeros from this diff on ('z').</summary>
    void Zero(long offset, long length);
}

/// <summary>The metadata of an RBD diff and what its records held.</summary>
public sealed record RbdDiffSummary(string? FromSnapshot, string? ToSnapshot, long SizeBytes, long DataBytes, long ZeroBytes, int Records);

/// <summary>
/// Reads the output of <c>rbd export-diff</c> (format "rbd diff v1", doc/dev/rbd-diff.rst): the header line, then
/// tagged records — 'f' and 't' (snapshot names, u32 length + bytes), 's' (image size, u64), 'w' (u64 offset, u64
/// length, data), 'z' (u64 offset, u64 length) and 'e' (end); integers little-endian. A diff in a backup store is
/// untrusted input, so the reader holds it to what rbd writes and refuses everything else before it is applied:
/// unknown tags, metadata after data or twice, names longer than <see cref="MaxNameBytes"/> or not printable UTF-8,
/// a size above <paramref name="maxImageBytes"/>, records without a size first, empty, overlapping, out of order or
/// reaching past the image, a data record longer than what follows it, anything after 'e', and no 'e' at all. Memory
/// stays at one 1 MiB buffer whatever the lengths say.
/// </summary>
public sealed class RbdDiffReader(Stream input, string source, long maxImageBytes = RbdDiffReader.MaxImageBytes)
{
    public const string Magic = "rbd diff v1\n";
    /// <summary>RBD's own limit on a snapshot name is far below this.</summary>
    public const int MaxNameBytes = 4096;
    /// <summary>1 PiB: more than any image this module creates; a larger size in a diff is taken as damage.</summary>
    public const long MaxImageBytes = 1L << 50;
    private const int ChunkBytes = 1 << 20;

    private readonly byte[] buffer = new byte[ChunkBytes];
    private long position;

    /// <summary>Reads the whole diff into <paramref name="sink"/>; throws <see cref="BackupDamagedException"/> at the first thing rbd would not have written.</summary>
    public RbdDiffSummary Read(IRbdDiffSink sink, CancellationToken cancellationToken = default)
    {
        Span<byte> magic = stackalloc byte[Magic.Length];
        Fill(magic, "the header");
        if (!magic.SequenceEqual(Encoding.ASCII.GetBytes(Magic)))
            throw Damaged("it does not start with \"rbd diff v1\"");
        string? from = null, to = null;
        long? size = null;
        long end = 0, dataBytes = 0, zeroBytes = 0;
        var records = 0;
        var dataSeen = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var tag = ReadByte("a record tag");
            switch ((char)tag)
            {
                case 'f' or 't' when dataSeen:
                    throw Damaged($"a snapshot name record ('{(char)tag}') follows data records at byte {position - 1}");
                case 'f':
                    from = from is null ? ReadName("from") : throw Damaged("it names two 'from' snapshots");
                    break;
                case 't':
                    to = to is null ? ReadName("to") : throw Damaged("it names two 'to' snapshots");
                    break;
                case 's':
                    if (size is not null || dataSeen)
                        throw Damaged($"a second or late size record at byte {position - 1}");
                    var bytes = ReadU64("the image size");
                    if (bytes > (ulong)maxImageBytes)
                        throw Damaged($"its image size {bytes} is above the {maxImageBytes} bytes allowed");
                    size = (long)bytes;
                    sink.Resize(size.Value);
                    break;
                case 'w' or 'z':
                    if (size is null)
                        throw Damaged($"a {(tag == 'w' ? "data" : "zero")} record at byte {position - 1} comes before the image size");
                    dataSeen = true;
                    var (offset, length) = ReadExtent(size.Value, end);
                    end = offset + length;
                    records++;
                    if (tag == 'w')
                    {
                        CopyData(sink, offset, length, cancellationToken);
                        dataBytes += length;
                    }
                    else
                    {
                        sink.Zero(offset, length);
                        zeroBytes += length;
                    }
                    break;
                case 'e':
                    if (size is null)
                        throw Damaged("it ends without an image size");
                    if (input.Read(buffer, 0, 1) != 0)
                        throw Damaged($"bytes follow its end record at byte {position}");
                    return new RbdDiffSummary(from, to, size.Value, dataBytes, zeroBytes, records);
                default:
                    throw Damaged($"unknown record tag 0x{tag:x2} at byte {position - 1}");
            }
        }
    }

    /// <summary>An extent inside the image that starts at or after the previous one's end (rbd writes them in order).</summary>
    private (long Offset, long Length) ReadExtent(long size, long previousEnd)
    {
        var at = position - 1;
        var offset = ReadU64("a record offset");
        var length = ReadU64("a record length");
        if (length == 0 || offset > (ulong)size || length > (ulong)size - offset)
            throw Damaged($"the record at byte {at} ({offset}+{length}) is empty or reaches past the image's {size} bytes");
        if ((long)offset < previousEnd)
            throw Damaged($"the record at byte {at} (offset {offset}) overlaps or precedes the one before it (which ends at {previousEnd})");
        return ((long)offset, (long)length);
    }

    private void CopyData(IRbdDiffSink sink, long offset, long length, CancellationToken cancellationToken)
    {
        if (!sink.Wants(offset, length) && input.CanSeek)
        {
            if (length > input.Length - input.Position)
                throw Damaged($"the data record at image offset {offset} holds {length} bytes but only {input.Length - input.Position} follow");
            input.Seek(length, SeekOrigin.Current);
            position += length;
            return;
        }
        for (long done = 0; done < length;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = (int)Math.Min(ChunkBytes, length - done);
            Fill(buffer.AsSpan(0, chunk), $"the data record at image offset {offset}");
            sink.Data(offset + done, buffer.AsSpan(0, chunk));
            done += chunk;
        }
    }

    private string ReadName(string which)
    {
        var length = ReadU32($"the length of the '{which}' snapshot name");
        if (length is 0 or > MaxNameBytes)
            throw Damaged($"its '{which}' snapshot name is {length} bytes long (1 to {MaxNameBytes} allowed)");
        var bytes = buffer.AsSpan(0, (int)length);
        Fill(bytes, $"the '{which}' snapshot name");
        string name;
        try
        {
            name = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Damaged($"its '{which}' snapshot name is not UTF-8");
        }
        return name.Any(char.IsControl) ? throw Damaged($"its '{which}' snapshot name holds control characters") : name;
    }

    private byte ReadByte(string what)
    {
        var one = buffer.AsSpan(0, 1);
        Fill(one, what);
        return one[0];
    }

    private uint ReadU32(string what)
    {
        Span<byte> bytes = stackalloc byte[4];
        Fill(bytes, what);
        return BinaryPrimitives.ReadUInt32LittleEndian(bytes);
    }

    private ulong ReadU64(string what)
    {
        Span<byte> bytes = stackalloc byte[8];
        Fill(bytes, what);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    private void Fill(Span<byte> target, string what)
    {
        for (var read = 0; read < target.Length;)
        {
            var n = input.Read(target[read..]);
            if (n == 0)
                throw Damaged($"it ends inside {what} at byte {position + read}");
            read += n;
        }
        position += target.Length;
    }

    private BackupDamagedException Damaged(string what) =>
        new($"The RBD diff {source} cannot be applied: {what}. Nothing was restored from it.", source);
}
