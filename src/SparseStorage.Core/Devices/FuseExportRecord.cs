using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using SparseStorage.Core.Host;

namespace SparseStorage.Core.Devices;

/// <summary>
/// What the module remembers of a qemu-storage-daemon that exports a qcow2 volume, or an encrypted volume's
/// plaintext, as a raw file through FUSE: a JSON file beside the export in the runtime directory, so the volume can
/// be found from the loop device. <see cref="Decrypting"/>: the export is an unlocked encrypted volume;
/// <see cref="LockWithDismount"/>: a mount unlocked it, so the dismount locks it again.
/// The record is written before the daemon starts (<see cref="ProcessId"/> 0 until its pid file names it), so that a
/// kill at any moment leaves something Lock-Volume and the sweep can act on.
/// </summary>
public sealed record FuseExportRecord(string VolumePath, string ExportPath, int ProcessId, bool Decrypting = false, bool LockWithDismount = false)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>
    /// The operation that started the daemon and has not handed it over yet (a mount or unlock not finished, or a
    /// daemon that lives only for one operation, like Protect's view). When that process is gone, the daemon is an
    /// orphan. Null once the export belongs to the host: an unlocked or mounted volume.
    /// </summary>
    public ProcessIdentity? Owner { get; init; }

    /// <summary>
    /// The loop device a mount attached to the export. Once the daemon has exited and its FUSE mount is detached, the
    /// kernel shows the loop's backing file as "/", and only this record still finds the loop to detach.
    /// </summary>
    public LoopIdentity? Loop { get; init; }

    /// <summary>A stable, short name for a volume's runtime files.</summary>
    public static string KeyFor(string volumePath) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(volumePath)))[..16].ToLowerInvariant();

    public static string RecordPath(string directory, string volumePath) => Path.Combine(directory, KeyFor(volumePath) + ".json");
    public static string ExportPathFor(string directory, string volumePath) => Path.Combine(directory, KeyFor(volumePath) + ".raw");
    public static string PidFilePath(string directory, string volumePath) => Path.Combine(directory, KeyFor(volumePath) + ".pid");
    public static string MonitorPath(string directory, string volumePath) => Path.Combine(directory, KeyFor(volumePath) + ".qmp");

    /// <summary>The daemon's QMP socket, beside its export.</summary>
    public string MonitorSocketPath => MonitorPath(Path.GetDirectoryName(ExportPath)!, VolumePath);

    /// <summary>The daemon's pid file, beside its export.</summary>
    [JsonIgnore]
    public string PidFile => PidFilePath(Path.GetDirectoryName(ExportPath)!, VolumePath);

    /// <summary>
    /// Whether the daemon runs: the pid is a live process started with this record's pid file, so a pid reused by
    /// another process after the daemon died is not taken for it.
    /// </summary>
    public bool IsDaemonAlive => ProcessId > 0 && IsDaemonWith(ProcessId, PidFile);

    /// <summary>Whether process <paramref name="pid"/> is a qemu-storage-daemon started with <c>--pidfile <paramref name="pidFile"/></c>.</summary>
    public static bool IsDaemonWith(int pid, string pidFile)
    {
        try
        {
            var arguments = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
            return arguments.Contains($"\0--pidfile\0{pidFile}\0", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The live daemon started with <paramref name="pidFile"/>, found among all processes; for a daemon that has not written its pid file yet.</summary>
    public static int? FindDaemonWith(string pidFile)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && IsDaemonWith(pid, pidFile))
                return pid;
        return null;
    }

    /// <summary>Replaces the record in one rename, so that a kill mid-write never leaves a half record nobody can read.</summary>
    public void Save(string directory)
    {
        var path = RecordPath(directory, VolumePath);
        var temporary = $"{path}.tmp-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Json));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Whether the operation that owns the daemon is known to be gone.</summary>
    [JsonIgnore]
    public bool IsOwnerGone => Owner is { IsAlive: false };

    public static IReadOnlyList<FuseExportRecord> ReadAll(string directory)
    {
        if (!Directory.Exists(directory))
            return [];
        return Directory.EnumerateFiles(directory, "*.json").Select(TryRead).OfType<FuseExportRecord>().ToList();
    }

    public static FuseExportRecord? Read(string directory, string volumePath) =>
        File.Exists(RecordPath(directory, volumePath)) ? TryRead(RecordPath(directory, volumePath)) : null;

    /// <summary>A record written before its daemon started gets the daemon's pid from the pid file, once qemu has written it.</summary>
    private static FuseExportRecord? TryRead(string path)
    {
        try
        {
            var record = JsonSerializer.Deserialize<FuseExportRecord>(File.ReadAllText(path));
            return record is { ProcessId: 0 } ? record with { ProcessId = ReadPidFile(PidFilePath(Path.GetDirectoryName(path)!, record.VolumePath)) ?? 0 } : record;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static int? ReadPidFile(string pidFile)
    {
        try
        {
            return int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0 ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
