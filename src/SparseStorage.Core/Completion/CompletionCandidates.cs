using SparseStorage.Core.Backups;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Snapshots;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Completion;

/// <summary>
/// What tab completion offers for names the user types at a prompt. Everything here reads names only (directory
/// listings, /sys) and opens no image header and starts no process, so a completion stays instant with many volumes.
/// </summary>
public static class CompletionCandidates
{
    /// <summary>Volume names in every pool, or only in <paramref name="pool"/> when it is given.</summary>
    public static IEnumerable<string> VolumeNames(PoolService pools, string? pool) =>
        pools.DirectoryDefinitions()
            .Where(p => pool is null || p.Name.Equals(pool, StringComparison.OrdinalIgnoreCase))
            .SelectMany(p => PoolService.VolumeFiles(p.Path))
            .Select(VolumeInspector.NameOf)
            .Distinct();

    public static IEnumerable<string> PoolNames(PoolService pools) => pools.Definitions().Select(p => p.Name);

    /// <summary>Loop devices that volumes of the registered pools are attached to (read from /sys and the FUSE export records).</summary>
    public static IEnumerable<string> LoopDevices(StorageContext context)
    {
        var attachments = context.ReadAttachments();
        return context.Pools.DirectoryDefinitions()
            .SelectMany(p => PoolService.VolumeFiles(p.Path))
            .Select(f => attachments.Of(f).LoopDevice)
            .OfType<string>()
            .Distinct()
            .OrderBy(d => d.Length).ThenBy(d => d, StringComparer.Ordinal);
    }

    /// <summary>Snapshot names of the volume given by its image path, or by name (and pool); none when neither is known yet.</summary>
    public static IEnumerable<string> SnapshotNames(StorageContext context, string? volumePath, string? volumeName, string? pool)
    {
        var catalog = new VolumeCatalog(context);
        var volume = volumePath is not null ? catalog.Get(volumePath) : volumeName is not null ? catalog.Single(volumeName, pool) : null;
        return volume is null ? [] : new SnapshotService(context).List(volume).Select(s => s.Name);
    }

    /// <summary>Names of the volumes that have at least one backup set in a backup destination.</summary>
    public static IEnumerable<string> BackedUpVolumeNames(string destination) =>
        Directory.Exists(destination)
            ? Directory.EnumerateDirectories(destination).Where(d => BackupCatalog.SetDirectories(d).Any()).Select(d => Path.GetFileName(d))
            : [];

    /// <summary>
    /// Paths that continue <paramref name="typed"/> towards a backup set: set directories, volume folders that hold
    /// sets, and destinations that hold such folders. Where the typed directory has none of these, every subdirectory
    /// is offered so that the user can walk towards one. Candidates keep the directory part as typed.
    /// </summary>
    public static IEnumerable<string> BackupSetPaths(string typed, string currentDirectory)
    {
        var slash = typed.LastIndexOf('/');
        var typedDirectory = slash < 0 ? "" : typed[..(slash + 1)];
        var directory = Path.GetFullPath(ExpandHome(typedDirectory.Length == 0 ? "." : typedDirectory), currentDirectory);
        if (!Directory.Exists(directory))
            return [];
        var subdirectories = Directory.EnumerateDirectories(directory).Where(d => !Path.GetFileName(d).StartsWith('.')).ToList();
        var towardsSets = subdirectories.Where(LeadsToSets).ToList();
        return (towardsSets.Count > 0 ? towardsSets : subdirectories).Select(d => typedDirectory + Path.GetFileName(d));
    }

    /// <summary>Network interfaces that can carry AoE: all but loopback.</summary>
    public static IEnumerable<string> NetworkInterfaces(string classNet = "/sys/class/net") =>
        Directory.Exists(classNet)
            ? Directory.EnumerateFileSystemEntries(classNet).Select(e => Path.GetFileName(e)).Where(n => n != "lo")
            : [];

    private static bool LeadsToSets(string directory)
    {
        try
        {
            return BackupCatalog.IsSetName(Path.GetFileName(directory)) || HoldsSets(directory) || Directory.EnumerateDirectories(directory).Any(HoldsSets);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // an unreadable directory leads nowhere, and must not spoil the other candidates
        }
    }

    private static bool HoldsSets(string directory) => BackupCatalog.SetDirectories(directory).Any();

    private static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..]
            : path;
}
