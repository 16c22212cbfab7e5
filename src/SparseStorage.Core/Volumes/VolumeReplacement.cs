namespace SparseStorage.Core.Volumes;

/// <summary>When a new volume may take the place of an existing file: only when asked (-Replace), and never over one in use, a base image or one with snapshots.</summary>
public static class VolumeReplacement
{
    public static void RequireReplaceable(StorageContext context, string target, bool force)
    {
        if (!File.Exists(target) && !Directory.Exists(target))
            return;
        if (!force || Directory.Exists(target))
            throw new ResourceExistsException("VolumeExists", $"'{target}' already exists; use -Replace to replace it.", target);
        var attachment = context.ReadAttachments().Of(target);
        if (attachment.IsAttached)
            throw new VolumeInUseException($"'{target}' cannot be replaced: it is {attachment.Describe()}.", target);
        var existing = new VolumeCatalog(context).Get(target);
        new BackingChains(context).RequireNoDependants(existing, "replaced");
        if (existing.SnapshotCount > 0)
            throw new ResourceExistsException("VolumeHasSnapshots",
                $"'{target}' has {existing.SnapshotCount} snapshot(s), which would then belong to the new volume; remove them first (Get-VolumeSnapshot -VolumePath '{target}' | Remove-VolumeSnapshot).", target);
    }
}
