using System.Globalization;

namespace SparseStorage.Core.Backups;

/// <summary>
/// The backup sets in a destination directory: <c>&lt;destination&gt;/&lt;volume name&gt;/&lt;set name&gt;/</c>, each with
/// manifest.json, manifest.sha256 and data.bin. Sets are named by their UTC time, so names sort by age.
/// </summary>
public static class BackupCatalog
{
    public static string NewSetName(DateTime utcNow, BackupKind kind) =>
        utcNow.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture) + (kind == BackupKind.Full ? "-full" : "-incr");

    public static string VolumeFolder(string destination, string volumeName) => Path.Combine(destination, volumeName);

    /// <summary>The complete sets of the volumes whose names match, oldest first; damaged sets go to <paramref name="onDamaged"/>.</summary>
    public static IEnumerable<VolumeBackup> List(string destination, Func<string, bool> volumeMatches, Action<BackupDamagedException> onDamaged)
    {
        if (!Directory.Exists(destination))
            throw new InvalidStorageArgumentException("BackupDestinationNotFound", $"The backup destination '{destination}' does not exist.", destination);
        foreach (var volumeFolder in Directory.EnumerateDirectories(destination).Where(d => volumeMatches(Path.GetFileName(d))).Order(StringComparer.Ordinal))
            foreach (var set in SetDirectories(volumeFolder))
            {
                VolumeBackup? backup = null;
                try
                {
                    backup = Describe(set);
                }
                catch (BackupDamagedException e)
                {
                    onDamaged(e);
                }
                if (backup is not null)
                    yield return backup;
            }
    }

    /// <summary>The newest set of a volume whose whole chain is sound, or null; a newer damaged set is passed over.</summary>
    public static (BackupManifest Manifest, string Checksum, string Directory)? NewestSound(string destination, string volumeName)
    {
        var folder = VolumeFolder(destination, volumeName);
        if (!Directory.Exists(folder))
            return null;
        foreach (var set in SetDirectories(folder).Reverse())
        {
            try
            {
                var chain = Chain(set);
                return (chain[^1].Manifest, chain[^1].Checksum, set);
            }
            catch (BackupDamagedException)
            {
            }
        }
        return null;
    }

    public sealed record Link(BackupManifest Manifest, string Checksum, string Directory);

    /// <summary>The chain from the full set to <paramref name="setDirectory"/>, each parent checked against the checksum its child recorded.</summary>
    public static IReadOnlyList<Link> Chain(string setDirectory)
    {
        var chain = new List<Link>();
        var directory = setDirectory;
        string? expectedChecksum = null;
        while (true)
        {
            var (manifest, checksum) = BackupManifest.Load(directory);
            if (expectedChecksum is not null && checksum != expectedChecksum)
                throw new BackupDamagedException($"The chain of {setDirectory} is broken: its parent {directory} is not the set it was made against (the manifest changed).", setDirectory);
            chain.Insert(0, new Link(manifest, checksum, directory));
            if (manifest.Parent is null)
                return chain;
            var parent = Path.Combine(Path.GetDirectoryName(directory)!, manifest.Parent);
            if (!Directory.Exists(parent))
                throw new BackupDamagedException($"The chain of {setDirectory} is broken: its parent set {parent} is missing.", setDirectory);
            expectedChecksum = manifest.ParentChecksum;
            directory = parent;
        }
    }

    public static VolumeBackup Describe(string setDirectory)
    {
        var (manifest, checksum) = BackupManifest.Load(setDirectory);
        return new VolumeBackup
        {
            Source = manifest.Volume,
            SourcePath = manifest.VolumePath,
            Name = manifest.Name,
            BackupPath = setDirectory,
            Kind = manifest.Kind,
            Parent = manifest.Parent,
            CreatedUtc = DateTime.SpecifyKind(manifest.CreatedUtc, DateTimeKind.Utc),
            Format = manifest.VolumeFormat,
            SizeBytes = manifest.SizeBytes,
            StoredBytes = manifest.StoredBytes,
            DataBytes = manifest.Blocks.Where(b => b.Set is not null).Sum(b => (long)b.Length),
            Consistency = manifest.Consistency,
            Checksum = checksum,
        };
    }

    /// <summary>Complete set directories of one volume folder, oldest first (work in progress is hidden and skipped).</summary>
    public static IEnumerable<string> SetDirectories(string volumeFolder) =>
        Directory.EnumerateDirectories(volumeFolder)
            .Where(d => !Path.GetFileName(d).StartsWith('.'))
            .Order(StringComparer.Ordinal);
}
