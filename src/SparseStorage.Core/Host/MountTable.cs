using System.Globalization;
using System.Text;

namespace SparseStorage.Core.Host;

/// <summary>One line of /proc/self/mountinfo (proc(5)).</summary>
public sealed record MountEntry(string DeviceNumber, string MountPoint, string FileSystemType, string Source, bool ReadOnly);

/// <summary>Reads mounts from /proc/self/mountinfo, so mounts made by hand are seen too.</summary>
public static class MountTable
{
    public static IReadOnlyList<MountEntry> Read(string path = "/proc/self/mountinfo") =>
        File.ReadLines(path).Select(Parse).OfType<MountEntry>().ToList();

    public static MountEntry? Parse(string line)
    {
        var fields = line.Split(' ');
        var separator = fields.Length < 10 ? -1 : Array.IndexOf(fields, "-", 6);
        if (separator < 0 || separator + 2 >= fields.Length)
            return null;
        var options = fields[5].Split(',');
        return new MountEntry(fields[2], Unescape(fields[4]), fields[separator + 1], Unescape(fields[separator + 2]), options.Contains("ro"));
    }

    /// <summary>The mount that holds <paramref name="path"/>: the longest mount point that is a prefix of it.</summary>
    public static MountEntry? Containing(IEnumerable<MountEntry> mounts, string path) =>
        mounts.Where(m => IsUnder(path, m.MountPoint)).MaxBy(m => m.MountPoint.Length);

    public static bool IsUnder(string path, string directory) =>
        directory == "/" || path == directory || path.StartsWith(directory.TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo octal.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\'))
            return field;
        var bytes = new List<byte>();
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field.AsSpan(i + 1, 3)))
            {
                bytes.Add((byte)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString(CultureInfo.InvariantCulture)));
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(ReadOnlySpan<char> text) => text.Length == 3 && !text.ContainsAnyExceptInRange('0', '7');
}
