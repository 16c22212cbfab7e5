using System.Text;

namespace SparseStorage.Core.Backups;

/// <summary>
/// One 512-byte tar header (ustar and GNU), read without trusting it: the checksum must match, numbers must be
/// octal or GNU base-256 and not negative. Only what a single-file extraction needs is kept; owners, modes and
/// times are never read, let alone applied.
/// </summary>
internal sealed record TarHeader(string Name, char Type, long Size, string LinkName)
{
    public const int Block = 512;

    /// <summary>GNU tar's old sparse format: a map of (offset, length) entries, four in the header.</summary>
    public const char GnuSparse = 'S';

    /// <summary>The header, or null for a block of zeros (the end of the archive).</summary>
    public static TarHeader? Parse(ReadOnlySpan<byte> block, string archive)
    {
        if (!block.ContainsAnyExcept((byte)0))
            return null;
        if (Number(block[148..156], archive) != Sum(block))
            throw new UnsafeArchiveMemberException($"'{archive}' is not a tar archive this module reads: a header's checksum does not match.", archive);
        var type = (char)block[156];
        var name = Text(block[..100]);
        // ustar splits long names into prefix (345..500) and name; GNU's own format uses that area for the sparse map.
        if (block[257..263].SequenceEqual("ustar\0"u8) && block[345] != 0)
            name = Text(block[345..500]) + "/" + name;
        return new TarHeader(name, type == '\0' ? '0' : type, Number(block[124..136], archive), Text(block[157..257]));
    }

    /// <summary>What a member of this type is, for an error message.</summary>
    public string Describe() => Type switch
    {
        '1' => "a hard link",
        '2' => "a symbolic link",
        '3' => "a character device",
        '4' => "a block device",
        '5' => "a directory",
        '6' => "a FIFO",
        '7' => "a contiguous file",
        'K' => "a long link name",
        'V' => "a volume label",
        'M' => "a multi-volume continuation",
        'D' => "a directory dump",
        _ => $"of tar type '{(char.IsAsciiLetterOrDigit(Type) ? Type.ToString() : $"\\x{(int)Type:x2}")}'",
    };

    /// <summary>An octal field (spaces and NULs around the digits) or GNU base-256 (first byte 0x80, big-endian).</summary>
    public static long Number(ReadOnlySpan<byte> field, string archive)
    {
        if (field[0] == 0x80)
        {
            var rest = field[1..];
            if (rest.Length > 8 && rest[..^8].ContainsAnyExcept((byte)0) || rest[^Math.Min(8, rest.Length)] >= 0x80)
                throw BadNumber(archive);
            return rest.ToArray().Aggregate(0L, (value, b) => (value << 8) | b);
        }
        if ((field[0] & 0x80) != 0)
            throw BadNumber(archive);
        var digits = Encoding.ASCII.GetString(field).Trim(' ', '\0');
        if (digits.Length == 0)
            return 0;
        if (digits.Length > 21 || digits.Any(c => c is < '0' or > '7'))
            throw BadNumber(archive);
        return Convert.ToInt64(digits, 8);
    }

    private static UnsafeArchiveMemberException BadNumber(string archive) =>
        new($"'{archive}' is not a tar archive this module reads: a header holds a number that is not octal or is out of range.", archive);

    private static long Sum(ReadOnlySpan<byte> block)
    {
        long sum = 8 * ' ';
        for (var i = 0; i < Block; i++)
            sum += i is >= 148 and < 156 ? 0 : block[i];
        return sum;
    }

    private static string Text(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }
}
