using System.Text.RegularExpressions;

namespace SparseStorage.Bench;

/// <summary>
/// Checks a copy against its source: bytes (`cmp`, or the union of both files' data extents when the files are too
/// large for cmp to read their holes), allocated size (`stat` %b × %B), and shared extents (`filefrag -v`).
/// </summary>
internal static partial class CopyVerifier
{
    public static CopyCheck Check(string source, string copy, bool byExtents)
    {
        var (identical, how) = byExtents
            ? (ExtentComparer.Equal(source, copy), "compared over the union of both files' data extents (cmp would read every hole)")
            : Cmp(source, copy);
        var (extents, shared) = Extents(copy);
        return new CopyCheck(identical, how, Allocated(source), Allocated(copy), extents, shared);
    }

    private static (bool, string) Cmp(string source, string copy)
    {
        var (exitCode, stdout, stderr) = Shell.TryRun("cmp", source, copy);
        return exitCode switch
        {
            0 => (true, "cmp"),
            1 => (false, $"cmp ({stdout.Trim()})"),
            _ => throw new InvalidOperationException($"cmp {source} {copy} failed ({exitCode}): {stderr.Trim()}"),
        };
    }

    public static long Allocated(string path)
    {
        var fields = Shell.Run("stat", "-c", "%b %B", path).Split(' ');
        return long.Parse(fields[0]) * long.Parse(fields[1]);
    }

    /// <summary>Extent count and shared extents from `filefrag -v` (one line per extent, flags at the end).</summary>
    private static (int Extents, int Shared) Extents(string path)
    {
        var lines = Shell.Run("filefrag", "-v", path).Split('\n').Where(line => ExtentLine().IsMatch(line)).ToList();
        return (lines.Count, lines.Count(line => line.Contains("shared")));
    }

    [GeneratedRegex(@"^\s*\d+:\s+\d+\.\.")]
    private static partial Regex ExtentLine();
}
