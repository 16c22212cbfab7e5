using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Backups;

/// <summary>
/// Where a restore writes. An explicit path is the operator's choice and only has to lie in a pool. Otherwise the set's
/// own record decides — the volume it came from, or a name beside it — and that record is not taken on trust: the
/// recorded path must be a plain absolute path, the file of the volume the set's folder is named after, lead to itself
/// (no link or ".." on the way) and lie in the pool the set records. A manifest edited to point at a volume elsewhere
/// is refused unless it was edited consistently, which only a signature (<see cref="BackupSignature"/>) rules out.
/// </summary>
public static class RestoreTarget
{
    public static string Resolve(StorageContext context, BackupManifest manifest, string setDirectory, string? destination)
    {
        if (!string.IsNullOrEmpty(destination) && destination.Contains('/'))
            return context.Pools.Confine(VolumeCreator.RequireExtensionFor(destination, manifest.VolumeFormat)).Path;
        var recorded = RequireRecordedSource(context, manifest, setDirectory);
        if (string.IsNullOrEmpty(destination))
            return VolumeCreator.RequireExtensionFor(recorded, manifest.VolumeFormat);
        var name = Pools.Names.RequireValid(VolumeInspector.NameOf(destination), "Volume");
        var beside = Path.Combine(Path.GetDirectoryName(recorded)!, name == destination ? name + Path.GetExtension(recorded) : destination);
        return context.Pools.Confine(VolumeCreator.RequireExtensionFor(beside, manifest.VolumeFormat)).Path;
    }

    private static string RequireRecordedSource(StorageContext context, BackupManifest manifest, string setDirectory)
    {
        var recorded = manifest.VolumePath;
        var folder = Path.GetFileName(Path.GetDirectoryName(setDirectory.TrimEnd('/')));
        if (!Path.IsPathFullyQualified(recorded) || Path.GetFullPath(recorded) != recorded || recorded.EndsWith('/'))
            throw Refused(setDirectory, $"it records the volume path '{recorded}', which is not a plain absolute path");
        if (VolumeInspector.NameOf(recorded) != manifest.Volume || manifest.Volume != folder)
            throw Refused(setDirectory, $"it records volume '{manifest.Volume}' at '{recorded}' but lies in the backup folder of '{folder}'");
        var (resolved, pool) = context.Pools.Confine(recorded);
        if (resolved != recorded)
            throw Refused(setDirectory, $"its recorded volume path '{recorded}' leads to '{resolved}'");
        if (manifest.Pool is { } own && !own.Equals(pool.Name, StringComparison.OrdinalIgnoreCase))
            throw Refused(setDirectory, $"it records pool '{own}' but its volume path '{recorded}' lies in pool '{pool.Name}'");
        return recorded;
    }

    private static BackupIntegrityException Refused(string setDirectory, string why) =>
        new("BackupSourceOutsidePool",
            $"Backup set {setDirectory} is not restored to the place it records: {why}. Nothing was restored; give -Destination with a full path in a pool to restore it elsewhere knowingly.",
            setDirectory);
}
