using System.IO.Pipes;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Backups;

/// <summary>
/// Writes the archive of one sparse file byte for byte as <c>tar --sparse --create</c> (GNU tar, format gnu) writes it:
/// an old-GNU sparse member (type S) whose map holds the file's data extents, found with SEEK_DATA/SEEK_HOLE, and a
/// last entry of no bytes at the file's size; numbers in octal, or base-256 when too large; each region padded to
/// 512 bytes; two zero blocks; the stream padded to tar's 10240-byte record. GNU tar reads a sparse file's data 512
/// bytes per read(2); here the regions move into the pipe with splice(2), without being copied, while the regions
/// ahead are already being read from the disk.
/// </summary>
internal sealed class SparseTarWriter
{
    private const int Block = 512;
    private const int Record = 20 * Block;
    private const int HeaderEntries = 4;
    private const int ExtensionEntries = 21;
    private const long ReadAheadBytes = 64 << 20;
    private const int PipeBytes = 1 << 20;
    private const int SpliceChunk = 1 << 20;
    private const int EINTR = 4;
    private const int EINVAL = 22;

    private readonly string path;
    private readonly Libc.FileStatus status;

    private SparseTarWriter(string path, Libc.FileStatus status) => (this.path, this.status) = (path, status);

    /// <summary>The member's name in the archive: the file's own name, or the one <see cref="Named"/> gives.</summary>
    private string Member { get; init; } = "";

    /// <summary>
    /// A writer for an image exported as a file under another name (an RBD image over FUSE, whose allocation the
    /// export does not report): always a sparse member, named <paramref name="member"/>, its data found with SEEK_DATA.
    /// </summary>
    public static SparseTarWriter Named(string path, string member) =>
        Encoding.UTF8.GetByteCount(member) < 100 ? new SparseTarWriter(path, Libc.Stat(path)) { Member = member }
        : throw new InvalidStorageArgumentException("NameTooLong", $"'{member}' is too long for an archive member (99 bytes at most).", member);

    /// <summary>
    /// A writer for the file, or null where GNU tar would write something else: a file that is not sparse (GNU tar
    /// then stores a plain member) or a name too long for the header (GNU tar adds a long-name member).
    /// </summary>
    public static SparseTarWriter? For(string path)
    {
        var status = Libc.Stat(path);
        var sparse = status.AllocatedBytes / Block < (status.Size + Block - 1) / Block;
        return sparse && Encoding.UTF8.GetByteCount(Path.GetFileName(path)) < 100 ? new SparseTarWriter(path, status) : null;
    }

    /// <summary>
    /// Writes the whole tar stream to <paramref name="output"/>, normally the standard input of a compressor;
    /// <paramref name="dataWritten"/> hears the data bytes written so far and the total after each region.
    /// </summary>
    public void Write(Stream output, CancellationToken cancellationToken, Action<long, long>? dataWritten = null)
    {
        using var image = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        var extents = SparseFile.DataExtents(image, status.Size).ToList();
        var headers = Headers(extents);
        output.Write(headers);
        if (output is PipeStream pipe)
            Libc.TryResizePipe(pipe.SafePipeHandle, PipeBytes);
        var written = (long)headers.Length;
        var advised = 0;
        var (data, total) = (0L, extents.Sum(e => e.Length));
        for (var i = 0; i < extents.Count; i++)
        {
            advised = AdviseAhead(image, extents, i, advised);
            CopyRegion(image, extents[i], output, cancellationToken);
            written += Padded(extents[i].Length);
            WriteZeros(output, Padded(extents[i].Length) - extents[i].Length);
            dataWritten?.Invoke(data += extents[i].Length, total);
        }
        WriteZeros(output, 2 * Block + (Record - (written + 2 * Block) % Record) % Record);
    }

    /// <summary>The member's header and its sparse map's extension blocks.</summary>
    public byte[] Headers(IReadOnlyList<SparseFile.Extent> extents)
    {
        var map = extents.Append(new SparseFile.Extent(status.Size, 0)).ToList();
        var extensions = (Math.Max(0, map.Count - HeaderEntries) + ExtensionEntries - 1) / ExtensionEntries;
        var bytes = new byte[(1 + extensions) * Block];
        var header = bytes.AsSpan(0, Block);
        Text(header[..100], Member.Length > 0 ? Member : Path.GetFileName(path));
        Number(header[100..108], status.Mode & 0xFFF);
        Number(header[108..116], status.Uid);
        Number(header[116..124], status.Gid);
        Number(header[124..136], extents.Sum(e => e.Length));
        Number(header[136..148], status.ModifiedSeconds);
        header[156] = (byte)'S';
        Text(header[257..265], "ustar  ");
        Text(header[265..297], Libc.UserName(status.Uid));
        Text(header[297..329], Libc.GroupName(status.Gid));
        Entries(header[386..482], map.Take(HeaderEntries));
        header[482] = (byte)(extensions > 0 ? 1 : 0);
        Number(header[483..495], status.Size);
        for (var e = 0; e < extensions; e++)
        {
            var extension = bytes.AsSpan((1 + e) * Block, Block);
            Entries(extension[..504], map.Skip(HeaderEntries + e * ExtensionEntries).Take(ExtensionEntries));
            extension[504] = (byte)(e < extensions - 1 ? 1 : 0);
        }
        Checksum(header);
        return bytes;
    }

    private static void Entries(Span<byte> area, IEnumerable<SparseFile.Extent> entries)
    {
        var at = 0;
        foreach (var entry in entries)
        {
            Number(area.Slice(at, 12), entry.Offset);
            Number(area.Slice(at + 12, 12), entry.Length);
            at += 24;
        }
    }

    /// <summary>Octal with a closing NUL when it fits, else GNU's base-256: the first byte 0x80, the value big-endian.</summary>
    private static void Number(Span<byte> field, long value)
    {
        var digits = field.Length - 1;
        if (value < 1L << (3 * digits))
        {
            Encoding.ASCII.GetBytes(Convert.ToString(value, 8).PadLeft(digits, '0'), field);
            field[digits] = 0;
            return;
        }
        field.Clear();
        field[0] = 0x80;
        for (var i = field.Length - 1; i > 0 && value > 0; i--, value >>= 8)
            field[i] = (byte)value;
    }

    private static void Text(Span<byte> field, string text) => Encoding.UTF8.GetBytes(text, field);

    /// <summary>The sum of the header's bytes with the checksum field read as spaces, as six octal digits, NUL, space.</summary>
    private static void Checksum(Span<byte> header)
    {
        header[148..156].Fill((byte)' ');
        var sum = 0;
        foreach (var b in header)
            sum += b;
        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0'), header[148..154]);
        header[154] = 0;
    }

    private static long Padded(long length) => (length + Block - 1) / Block * Block;

    /// <summary>Asks the kernel to read the regions up to <see cref="ReadAheadBytes"/> ahead of region <paramref name="current"/>; returns the first region not yet asked for.</summary>
    private static int AdviseAhead(SafeFileHandle image, List<SparseFile.Extent> extents, int current, int advised)
    {
        for (; advised < extents.Count && extents[advised].Offset < extents[current].Offset + ReadAheadBytes; advised++)
            Libc.posix_fadvise(image, extents[advised].Offset, extents[advised].Length, Libc.POSIX_FADV_WILLNEED);
        return advised;
    }

    private static void CopyRegion(SafeFileHandle image, SparseFile.Extent region, Stream output, CancellationToken cancellationToken)
    {
        var offset = region.Offset;
        if (output is PipeStream pipe)
            offset = Splice(image, region, pipe.SafePipeHandle, cancellationToken);
        var buffer = offset < region.End ? GC.AllocateUninitializedArray<byte>(SpliceChunk) : [];
        while (offset < region.End)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var read = RandomAccess.Read(image, buffer.AsSpan(0, (int)Math.Min(buffer.Length, region.End - offset)), offset);
            output.Write(buffer, 0, read > 0 ? read : throw ImageChanged(offset));
            offset += read;
        }
    }

    /// <summary>Moves a region into the pipe; returns where it stopped, short of the region's end only when the filesystem cannot splice.</summary>
    private static long Splice(SafeFileHandle image, SparseFile.Extent region, SafePipeHandle pipe, CancellationToken cancellationToken)
    {
        var offset = region.Offset;
        while (offset < region.End)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var moved = Libc.splice(image, ref offset, pipe, 0, (nuint)Math.Min(SpliceChunk, region.End - offset), Libc.SPLICE_F_MORE);
            if (moved == 0)
                throw ImageChanged(offset);
            if (moved > 0)
                continue;
            var errno = Marshal.GetLastPInvokeError();
            if (errno == EINVAL && offset == region.Offset)
                return offset; // this filesystem cannot splice: copy instead
            if (errno != EINTR)
                throw Libc.ErrnoException("cannot move the image's data into the compressor");
        }
        return offset;
    }

    private static void WriteZeros(Stream output, long count)
    {
        Span<byte> zeros = stackalloc byte[Block];
        zeros.Clear();
        for (; count > 0; count -= Math.Min(count, Block))
            output.Write(zeros[..(int)Math.Min(count, Block)]);
    }

    private static IOException ImageChanged(long offset) => new($"the image ended at {offset} bytes, inside a data region; it changed while it was archived");
}
