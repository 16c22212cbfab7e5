using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace SparseStorage.Core.Devices;

/// <summary>
/// What the module remembers of a qemu-storage-daemon that exports a qcow2 volume, or an encrypted volume's
/// plaintext, as a raw file through FUSE: a JSON file beside the export in the runtime directory, so the volume can
/// be found from the loop device. <see cref="Decrypting"/>: the export is an unlocked encrypted volume;
/// <see cref="LockWithDismount"/>: a mount unlocked it, so the dismount locks it again.
/// </summary>
public sealed record FuseExportRecord(string VolumePath, string ExportPath, int ProcessId, bool Decrypting = false, bool LockWithDismount = false)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>A stable, short name for a volume's runtime files.</summary>
    public static string KeyFor(string volumePath) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(volumePath)))[..16].ToLowerInvariant();

    public static string RecordPath(string directory, string volumePath) => Path.Combine(directory, KeyFor(volumePath) + ".json");
    public static string ExportPathFor(string directory, string volumePath) => Path.Combine(directory, KeyFor(volumePath) + ".raw");
    public static string PidFilePath(string directory, string volumePath) => Path.Combine(directory, KeyFor(volumePath) + ".pid");
    public static string MonitorPath(string directory, string volumePath) => Path.Combine(directory, KeyFor(volumePath) + ".qmp");

    /// <summary>The daemon's QMP socket, beside its export.</summary>
    public string MonitorSocketPath => MonitorPath(Path.GetDirectoryName(ExportPath)!, VolumePath);

    public bool IsDaemonAlive => ProcessId > 0 && Directory.Exists($"/proc/{ProcessId}");

    public void Save(string directory) =>
        File.WriteAllText(RecordPath(directory, VolumePath), JsonSerializer.Serialize(this, Json));

    public static IReadOnlyList<FuseExportRecord> ReadAll(string directory)
    {
        if (!Directory.Exists(directory))
            return [];
        return Directory.EnumerateFiles(directory, "*.json").Select(TryRead).OfType<FuseExportRecord>().ToList();
    }

    private static FuseExportRecord? TryRead(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<FuseExportRecord>(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }
}
