using System.Text;
using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Backups;

/// <summary>
/// Reads a tar stream that must hold exactly one regular file (plain, or GNU sparse as <c>tar --sparse</c> and
/// <see cref="SparseTarWriter"/> write it) and writes that file's bytes into a file the caller opened. Nothing is
/// created from the archive's say: no path, owner, mode, time, device, FIFO or link is ever applied. A member of
/// another kind, a name with a path in it, or a second member is refused with <see cref="UnsafeArchiveMemberException"/>.
/// All-zero stretches are not written, so holes stay holes.
/// </summary>
internal sealed class SingleFileTarReader(SafeFileHandle output, string archive)
{
    private const int MaxNameBytes = 4096;
    private const int MaxPaxBytes = 1 << 20;
    private const int MaxSparseEntries = 1 << 22;
    private const int ZeroChunk = 64 << 10;

    private readonly byte[] block = new byte[TarHeader.Block];
    private readonly byte[] buffer = GC.AllocateUninitializedArray<byte>(1 << 20);
    private string? longName;
    private Dictionary<string, string> pax = [];

    /// <summary>The member's name once it was read.</summary>
    public string? MemberName { get; private set; }

    /// <summary>The member's size as a file (its holes included).</summary>
    public long FileSize { get; private set; }

    /// <summary>Whether the stream held the whole member and the archive's end; false when it stopped short.</summary>
    public bool Complete { get; private set; }

    public void Read(Stream tar, CancellationToken cancellationToken)
    {
        while (ReadBlock(tar))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (TarHeader.Parse(block, archive) is not { } header)
            {
                Complete = MemberName is not null;
                if (!Complete)
                    throw new UnsafeArchiveMemberException($"'{archive}' holds no file; a volume archive holds exactly one image file.", archive);
                tar.CopyTo(Stream.Null); // the rest is padding to tar's record; the compressor must be read to its end
                return;
            }
            if (MemberName is not null)
                throw new UnsafeArchiveMemberException($"'{archive}' holds more than one member; a volume archive holds exactly one image file. Nothing was expanded.", archive);
            if (!ReadMember(tar, header, cancellationToken))
                return;
        }
    }

    /// <summary>Reads one header's worth: name extensions are kept for the next header, the file is written; false when the stream ended.</summary>
    private bool ReadMember(Stream tar, TarHeader header, CancellationToken cancellationToken)
    {
        switch (header.Type)
        {
            case 'L':
                longName = ReadText(tar, header.Size, MaxNameBytes)?.TrimEnd('\0');
                return longName is not null;
            case 'x':
                pax = ReadText(tar, header.Size, MaxPaxBytes) is { } records ? PaxRecords(records) : [];
                return true;
            case 'g':
                return ReadText(tar, header.Size, MaxPaxBytes) is not null; // global defaults: nothing in them is applied
            case '0' or TarHeader.GnuSparse:
                MemberName = RequirePlainName(pax.GetValueOrDefault("path") ?? longName ?? header.Name);
                var size = pax.TryGetValue("size", out var paxSize) && long.TryParse(paxSize, out var parsed) && parsed >= 0 ? parsed : header.Size;
                return header.Type == '0' ? ReadPlain(tar, size, cancellationToken) : ReadSparse(tar, size, cancellationToken);
            default:
                throw new UnsafeArchiveMemberException(
                    $"'{archive}' holds '{Shown(pax.GetValueOrDefault("path") ?? longName ?? header.Name)}', {header.Describe()}; a volume archive holds exactly one regular file, and devices, FIFOs, links and directories are never extracted. Nothing was expanded.", archive);
        }
    }

    private string RequirePlainName(string name)
    {
        var plain = name.StartsWith("./", StringComparison.Ordinal) ? name[2..] : name;
        if (plain.Length == 0 || plain is "." or ".." || plain.Contains('/') || plain.Any(char.IsControl))
            throw new UnsafeArchiveMemberException(
                $"'{archive}' holds a file named '{Shown(name)}'; a volume archive's one member is a plain file name, without directories or '..'. Nothing was expanded.", archive);
        return plain;
    }

    private static string Shown(string name) => new(name.Take(200).Select(c => char.IsControl(c) ? '?' : c).ToArray());

    private bool ReadPlain(Stream tar, long size, CancellationToken cancellationToken)
    {
        if (!CopyData(tar, 0, size, cancellationToken))
            return false;
        Resize(size);
        return SkipPadding(tar, size);
    }

    /// <summary>GNU's old sparse member: the data regions stored one after another, the map in the header and its extension blocks.</summary>
    private bool ReadSparse(Stream tar, long stored, CancellationToken cancellationToken)
    {
        var fileSize = TarHeader.Number(block.AsSpan(483, 12), archive);
        var map = SparseEntries(block.AsSpan(386, 96), 4);
        for (var extended = block[482] != 0; extended; extended = block[504] != 0)
        {
            if (!ReadBlock(tar))
                return false;
            map.AddRange(SparseEntries(block.AsSpan(0, 504), 21));
            if (map.Count > MaxSparseEntries)
                throw Malformed("its sparse map has too many entries");
        }
        RequireSound(map, fileSize, stored);
        Resize(fileSize);
        foreach (var (offset, length) in map)
            if (!CopyData(tar, offset, length, cancellationToken))
                return false;
        return SkipPadding(tar, stored);
    }

    private List<(long Offset, long Length)> SparseEntries(ReadOnlySpan<byte> area, int count)
    {
        var entries = new List<(long, long)>();
        for (var i = 0; i < count && area[i * 24] != 0; i++)
            entries.Add((TarHeader.Number(area.Slice(i * 24, 12), archive), TarHeader.Number(area.Slice(i * 24 + 12, 12), archive)));
        return entries;
    }

    /// <summary>Regions in order, not overlapping, inside the file, and adding up to the bytes stored.</summary>
    private void RequireSound(List<(long Offset, long Length)> map, long fileSize, long stored)
    {
        var (end, total) = (0L, 0L);
        foreach (var (offset, length) in map)
        {
            if (offset < end || length > fileSize - offset)
                throw Malformed("its sparse map has regions out of order or beyond the file's size");
            (end, total) = (offset + length, total + length);
        }
        if (total != stored)
            throw Malformed("its sparse map does not add up to the data stored");
    }

    private UnsafeArchiveMemberException Malformed(string what) => new($"'{archive}' is damaged or crafted: {what}. Nothing was expanded.", archive);

    /// <summary>Copies <paramref name="length"/> bytes of the stream to the output at <paramref name="offset"/>, leaving all-zero stretches unwritten.</summary>
    private bool CopyData(Stream tar, long offset, long length, CancellationToken cancellationToken)
    {
        while (length > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var want = (int)Math.Min(buffer.Length, length);
            if (tar.ReadAtLeast(buffer.AsSpan(0, want), want, throwOnEndOfStream: false) < want)
                return false;
            for (var at = 0; at < want; at += ZeroChunk)
            {
                var piece = buffer.AsSpan(at, Math.Min(ZeroChunk, want - at));
                if (piece.ContainsAnyExcept((byte)0))
                    RandomAccess.Write(output, piece, offset + at);
            }
            (offset, length) = (offset + want, length - want);
        }
        return true;
    }

    private void Resize(long size)
    {
        if (Libc.ftruncate(output, size) != 0)
            throw Libc.ErrnoException($"cannot size the file expanded from {archive} to {size} bytes");
        FileSize = size;
    }

    private bool SkipPadding(Stream tar, long size)
    {
        var padding = (int)((TarHeader.Block - size % TarHeader.Block) % TarHeader.Block);
        return tar.ReadAtLeast(block.AsSpan(0, padding), padding, throwOnEndOfStream: false) == padding;
    }

    private bool ReadBlock(Stream tar) => tar.ReadAtLeast(block, TarHeader.Block, throwOnEndOfStream: false) == TarHeader.Block;

    /// <summary>A header's data read as text, or null when the stream ended; larger than <paramref name="limit"/> is refused.</summary>
    private string? ReadText(Stream tar, long size, int limit)
    {
        if (size > limit)
            throw Malformed($"a name or extended header of {size} bytes");
        var bytes = new byte[size];
        return tar.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) == bytes.Length && SkipPadding(tar, size)
            ? Encoding.UTF8.GetString(bytes)
            : null;
    }

    /// <summary>pax records, "length key=value\n" each. PAX sparse files (GNU.sparse.*) are refused rather than half understood.</summary>
    private Dictionary<string, string> PaxRecords(string text)
    {
        var records = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var space = line.IndexOf(' ');
            var equals = line.IndexOf('=', Math.Max(space, 0));
            if (space < 0 || equals < 0)
                throw Malformed("an extended header record is not 'length key=value'");
            var key = line[(space + 1)..equals];
            if (key.StartsWith("GNU.sparse.", StringComparison.Ordinal))
                throw new UnsafeArchiveMemberException(
                    $"'{archive}' holds a sparse file in the PAX format, which this module does not read; make the archive with Compress-SparseVolume or 'tar --sparse --format=gnu'.", archive);
            records[key] = line[(equals + 1)..];
        }
        return records;
    }
}
