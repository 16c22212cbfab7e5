using System.Globalization;
using System.Text.Json.Serialization;

namespace SparseStorage.Core.Host;

/// <summary>
/// A process told apart from a later one that reuses its pid: the pid and its start time (field 22 of
/// /proc/&lt;pid&gt;/stat, clock ticks since boot). Names of work files and secret files carry it, so a later call can
/// prove their owner is gone before it removes them.
/// </summary>
public readonly record struct ProcessIdentity(int ProcessId, long StartTime)
{
    private const int StartTimeField = 22;

    public static ProcessIdentity Current { get; } = Of(Environment.ProcessId) ?? new ProcessIdentity(Environment.ProcessId, 0);

    /// <summary>The identity of a live process, or null when there is none with that pid (zombies count as gone).</summary>
    public static ProcessIdentity? Of(int processId)
    {
        var fields = StatFields(processId);
        if (fields is null || fields[0] == "Z" || fields[0] == "X")
            return null;
        return long.TryParse(fields[StartTimeField - 3], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            ? new ProcessIdentity(processId, start)
            : null;
    }

    /// <summary>Whether this very process still runs: same pid and same start time.</summary>
    [JsonIgnore]
    public bool IsAlive => ProcessId > 0 && Of(ProcessId) is { } now && now.StartTime == StartTime;

    /// <summary>"pid-starttime", as it appears in file names.</summary>
    public override string ToString() =>
        ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + StartTime.ToString(CultureInfo.InvariantCulture);

    public static bool TryParse(string pid, string startTime, out ProcessIdentity identity)
    {
        identity = default;
        if (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ||
            !long.TryParse(startTime, NumberStyles.None, CultureInfo.InvariantCulture, out var start))
            return false;
        identity = new ProcessIdentity(id, start);
        return true;
    }

    /// <summary>The fields after the command name (which may hold spaces and parentheses): state is the first.</summary>
    private static string[]? StatFields(int processId)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{processId.ToString(CultureInfo.InvariantCulture)}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
