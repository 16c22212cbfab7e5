using System.Globalization;
using System.Text;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Aoe;

/// <summary>A live vblade process, however it was started.</summary>
public sealed record RunningVblade(int ProcessId, VbladeCommandLine CommandLine, string? NetworkNamespace);

/// <summary>What /proc tells about processes: live vblades, whether a pid is alive, and when it started.</summary>
public static class VbladeProcesses
{
    /// <summary>Every live vblade on this host (in any network namespace), read from /proc/*/cmdline.</summary>
    public static IReadOnlyList<RunningVblade> Scan()
    {
        var found = new List<RunningVblade>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                continue;
            var argv = ReadOrEmpty(Path.Combine(directory, "cmdline")).Split('\0', StringSplitOptions.None);
            if (VbladeCommandLine.TryParse(argv.Length > 0 && argv[^1].Length == 0 ? argv[..^1] : argv) is { } commandLine && IsAlive(pid))
                found.Add(new RunningVblade(pid, commandLine, NetworkNamespace.OfProcess(pid)));
        }
        return found;
    }

    /// <summary>The process exists and has not exited (a zombie waiting for its parent counts as exited).</summary>
    public static bool IsAlive(int pid) => pid > 0 && StatFields(pid) is { } fields && fields[0] != "Z" && fields[0] != "X";

    /// <summary>The process's start time in clock ticks since boot (stat field 22): with the pid, it names one process for good.</summary>
    public static long? StartTicks(int pid) =>
        StatFields(pid) is { Length: > 19 } fields && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) ? ticks : null;

    public static string BootId() => ReadOrEmpty("/proc/sys/kernel/random/boot_id").Trim();

    /// <summary>The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses): state first.</summary>
    private static string[]? StatFields(int pid)
    {
        var stat = ReadOrEmpty($"/proc/{pid}/stat");
        var end = stat.LastIndexOf(')');
        return end < 0 ? null : stat[(end + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return Encoding.UTF8.GetString(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
