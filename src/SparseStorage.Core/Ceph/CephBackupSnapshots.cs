using SparseStorage.Core.Backups;

namespace SparseStorage.Core.Ceph;

/// <summary>The backup snapshots that removed backup sets leave on a Ceph volume's image, found and removed.</summary>
internal static class CephBackupSnapshots
{
    /// <summary>
    /// Those of <paramref name="names"/> that are backup snapshots of <paramref name="volumeFolder"/> (by its prefix, not
    /// by what a manifest says) and are on the image of <paramref name="volumePath"/> now. A volume that is not in a
    /// registered Ceph pool has none; an image that cannot be asked keeps them, and a warning says so.
    /// </summary>
    public static IEnumerable<RbdBackupSnapshot> Present(StorageContext context, string volumePath, string volumeFolder, IReadOnlyList<string> names, List<string> warnings)
    {
        if (!CephPoolSettings.IsRbdPath(volumePath))
            return [];
        var prefix = CephVolumeBackup.SnapshotPrefixOf(volumeFolder);
        try
        {
            var (pool, image) = CephImages.Resolve(context, volumePath);
            var onImage = CephImages.State(context, pool, image, watchers: false).Snapshots.ToHashSet(StringComparer.Ordinal);
            return names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && onImage.Contains(n)).Distinct().Order(StringComparer.Ordinal)
                .Select(n => new RbdBackupSnapshot(volumePath, image, n)).ToList();
        }
        catch (SparseStorageException e)
        {
            warnings.Add($"The backup snapshots {string.Join(", ", names)} of {volumePath} stay on its image: {e.Message}");
            return [];
        }
    }

    /// <summary>Removes the snapshot if it is still on the image.</summary>
    public static void Remove(StorageContext context, RbdBackupSnapshot snapshot)
    {
        var (pool, image) = CephImages.Resolve(context, snapshot.VolumePath);
        if (!CephImages.State(context, pool, image, watchers: false).Snapshots.Contains(snapshot.Snapshot))
            return;
        using var writer = new RbdSnapshotWriter(context, pool.Tools, image, connect: true);
        writer.Remove(snapshot.Snapshot);
    }
}
