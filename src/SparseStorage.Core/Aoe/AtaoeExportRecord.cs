using System.Text.Json;

namespace SparseStorage.Core.Aoe;

/// <summary>
/// What the module remembers of one export: a JSON file, with vblade's pid file and log beside it, in the root-only
/// exports directory. The pid, its start time and the boot id together tell a live vblade from a dead one or a reused pid.
/// </summary>
public sealed record AtaoeExportRecord
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public required string Volume { get; init; }
    public required string VolumePath { get; init; }
    public int Shelf { get; init; }
    public int Slot { get; init; }
    public required string Interface { get; init; }
    public required string NetworkNamespace { get; init; }
    public bool ReadOnly { get; init; }
    public IReadOnlyList<string> MacAllow { get; init; } = [];
    public bool Direct { get; init; }
    public bool Sync { get; init; }
    public int ProcessId { get; init; }
    public long ProcessStartTicks { get; init; }
    public required string BootId { get; init; }
    public DateTime StartedUtc { get; init; }
    public IReadOnlyList<string> Command { get; init; } = [];

    /// <summary>Shelf, slot, interface and namespace: the address is unique per network segment, and so is the record.</summary>
    public string Key => KeyFor(Shelf, Slot, Interface, NetworkNamespace);

    public static string KeyFor(int shelf, int slot, string interfaceName, string networkNamespace) =>
        $"e{shelf}.{slot}-{interfaceName}-{new string(networkNamespace.Where(char.IsAsciiDigit).ToArray())}";

    public static string RecordPath(string directory, string key) => Path.Combine(directory, key + ".json");
    public static string PidFilePath(string directory, string key) => Path.Combine(directory, key + ".pid");
    public static string LogPath(string directory, string key) => Path.Combine(directory, key + ".log");

    public AtaoeExportState StateNow()
    {
        if (BootId != VbladeProcesses.BootId())
            return AtaoeExportState.Stale;
        if (!VbladeProcesses.IsAlive(ProcessId))
            return AtaoeExportState.Dead;
        return VbladeProcesses.StartTicks(ProcessId) == ProcessStartTicks ? AtaoeExportState.Running : AtaoeExportState.Stale;
    }

    public AtaoeExport ToExport(string directory) => new()
    {
        Volume = Volume, VolumePath = VolumePath, Shelf = Shelf, Slot = Slot, Interface = Interface, ReadOnly = ReadOnly,
        MacAllow = MacAllow, Direct = Direct, Sync = Sync, ProcessId = ProcessId, StartedUtc = StartedUtc, State = StateNow(),
        NetworkNamespace = NetworkNamespace, LogPath = LogPath(directory, Key),
    };

    public void Save(string directory) => WriteOwnerOnly(RecordPath(directory, Key), JsonSerializer.Serialize(this, Json));

    /// <summary>Removes the record, pid file and log.</summary>
    public void Delete(string directory)
    {
        foreach (var path in new[] { RecordPath(directory, Key), PidFilePath(directory, Key), LogPath(directory, Key) })
            File.Delete(path);
    }

    /// <summary>Creates (or empties) a file readable only by its owner; records and logs are never for other users.</summary>
    public static void WriteOwnerOnly(string path, string text)
    {
        using var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = OwnerOnly });
        stream.Write(System.Text.Encoding.UTF8.GetBytes(text));
        File.SetUnixFileMode(path, OwnerOnly);
    }

    public static IReadOnlyList<AtaoeExportRecord> ReadAll(string directory) =>
        !Directory.Exists(directory) ? []
            : Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal).Select(TryRead).OfType<AtaoeExportRecord>().ToList();

    private static AtaoeExportRecord? TryRead(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<AtaoeExportRecord>(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }
}
