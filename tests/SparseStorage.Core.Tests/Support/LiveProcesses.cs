using System.Text;

namespace SparseStorage.Core.Tests.Support;

public static class LiveProcesses
{
    /// <summary>Command lines (NULs as spaces) of live processes whose arguments mention <paramref name="text"/>.</summary>
    public static List<string> CommandLinesMentioning(string text)
    {
        var found = new List<string>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == Environment.ProcessId)
                continue;
            try
            {
                var line = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(directory, "cmdline"))).Replace('\0', ' ');
                if (line.Contains(text, StringComparison.Ordinal))
                    found.Add($"{pid}: {line}");
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return found;
    }
}
