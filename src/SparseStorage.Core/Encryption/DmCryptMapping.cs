using SparseStorage.Core.Devices;

namespace SparseStorage.Core.Encryption;

/// <summary>The dm-crypt mapping of an unlocked volume: /dev/mapper/sparsestorage-&lt;key of the image path&gt;.</summary>
public static class DmCryptMapping
{
    private const string MapperDirectory = "/dev/mapper";
    public const string ControlDevice = "/dev/mapper/control";

    /// <summary>
    /// Whether the kernel has device-mapper: its control device is registered in /proc/misc. The /dev/mapper/control
    /// node alone proves nothing; udev or a container runtime can create it without the driver.
    /// </summary>
    public static bool IsAvailable { get; } = File.Exists(ControlDevice) && ReadMiscDevices().Contains("device-mapper");

    private static IReadOnlyCollection<string> ReadMiscDevices()
    {
        try
        {
            return File.ReadLines("/proc/misc").Select(l => l.Trim().Split(' ', 2) is [_, var name] ? name.Trim() : "").ToHashSet();
        }
        catch (IOException)
        {
            return [];
        }
    }

    public static string NameFor(string volumePath) => "sparsestorage-" + FuseExportRecord.KeyFor(volumePath);

    public static string DevicePathFor(string volumePath) => Path.Combine(MapperDirectory, NameFor(volumePath));

    /// <summary>The module's mappings on this host; none (and no error) without device-mapper.</summary>
    public static IEnumerable<string> ReadAll() =>
        Directory.Exists(MapperDirectory) ? Directory.EnumerateFileSystemEntries(MapperDirectory, "sparsestorage-*") : [];
}
