using SparseStorage.Core.Devices;

namespace SparseStorage.Core.Encryption;

/// <summary>The dm-crypt mapping of an unlocked volume: /dev/mapper/sparsestorage-&lt;key of the image path&gt;.</summary>
public static class DmCryptMapping
{
    private const string MapperDirectory = "/dev/mapper";
    public const string ControlDevice = "/dev/mapper/control";

    public static bool IsAvailable => File.Exists(ControlDevice);

    public static string NameFor(string volumePath) => "sparsestorage-" + FuseExportRecord.KeyFor(volumePath);

    public static string DevicePathFor(string volumePath) => Path.Combine(MapperDirectory, NameFor(volumePath));

    /// <summary>The module's mappings on this host; none (and no error) without device-mapper.</summary>
    public static IEnumerable<string> ReadAll() =>
        Directory.Exists(MapperDirectory) ? Directory.EnumerateFileSystemEntries(MapperDirectory, "sparsestorage-*") : [];
}
