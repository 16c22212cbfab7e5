using System.Text.RegularExpressions;
using SparseStorage.Core.Native;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Leftovers;

/// <summary>
/// The module's work files and directories (<see cref="SiblingFile"/> names) in a pool: directly in it, and in the
/// volumes' folders inside its hidden module folders (<c>.snapshots/&lt;image&gt;/</c>). A directory listing or three,
/// never a walk of the whole tree; links are never followed.
/// </summary>
public static partial class PartialFiles
{
    private static readonly EnumerationOptions NoLinks = new()
    {
        RecurseSubdirectories = true,
        AttributesToSkip = FileAttributes.ReparsePoint,
        IgnoreInaccessible = true,
    };

    /// <summary>Work entries in the pool directory and its module folders' volume folders.</summary>
    public static IEnumerable<string> InPool(string poolPath)
    {
        foreach (var entry in Entries(poolPath))
        {
            if (IsPartialName(entry))
                yield return entry;
            else if (Path.GetFileName(entry).StartsWith('.') && IsRealDirectory(entry))
                foreach (var volumeFolder in Entries(entry).Where(IsRealDirectory))
                    foreach (var partial in In(volumeFolder))
                        yield return partial;
        }
    }

    /// <summary>Work entries directly in one directory (a backup destination's volume folder, an archive's directory).</summary>
    public static IEnumerable<string> In(string directory) => Entries(directory).Where(IsPartialName);

    /// <summary>The bytes a work entry occupies on disk: a file's allocated blocks, or those of every file in a work directory.</summary>
    public static long AllocatedBytes(string entry)
    {
        try
        {
            if (IsRealDirectory(entry))
                return Directory.EnumerateFiles(entry, "*", NoLinks).Sum(FileAllocatedBytes);
            return new FileInfo(entry).LinkTarget is null ? FileAllocatedBytes(entry) : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0; // removed while being measured
        }
    }

    /// <summary>Removes a work entry; a link is unlinked, never followed.</summary>
    public static void Remove(string entry)
    {
        if (IsRealDirectory(entry))
            Directory.Delete(entry, recursive: true);
        else
            File.Delete(entry);
    }

    /// <summary>Names the module gives work files: today's, which name their owner, and those of earlier versions (".x.img.partial-1a2b3c4d"), counted but never swept.</summary>
    private static bool IsPartialName(string entry)
    {
        var name = Path.GetFileName(entry);
        return name.StartsWith(SiblingFile.PartialMarker, StringComparison.Ordinal) || name.StartsWith('.') && EarlierPartialName().IsMatch(name);
    }

    [GeneratedRegex(@"\.partial-[0-9a-f]{8}$")]
    private static partial Regex EarlierPartialName();

    private static bool IsRealDirectory(string path) => new DirectoryInfo(path) is { Exists: true, LinkTarget: null };

    private static long FileAllocatedBytes(string file)
    {
        try
        {
            return Libc.Stat(file).AllocatedBytes;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static IEnumerable<string> Entries(string directory)
    {
        try
        {
            return Directory.Exists(directory) ? Directory.GetFileSystemEntries(directory) : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
