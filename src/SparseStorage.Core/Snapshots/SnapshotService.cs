using System.Globalization;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Snapshots;

public sealed class SnapshotNotFoundException(string message, object? target = null)
    : SparseStorageException("SnapshotNotFound", StorageErrorKind.ObjectNotFound, message, target);

/// <summary>
/// Snapshots of volumes: qcow2 internal snapshots, and for raw volumes reflink or sparse copies in the pool's
/// hidden .snapshots folder. A mounted volume's filesystem is frozen while the snapshot is taken.
/// </summary>
public sealed class SnapshotService(StorageContext context)
{
    /// <summary>A name for a snapshot taken without one: its UTC time, sortable.</summary>
    public static string DefaultName(DateTime utcNow) => utcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);

    /// <summary>Volume name rules, and not digits only: qemu-img looks a snapshot up by id or name, and ids are digits.</summary>
    public static string RequireValidName(string name)
    {
        Names.RequireValid(name, "Snapshot");
        return name.All(char.IsAsciiDigit)
            ? throw new InvalidStorageArgumentException("InvalidSnapshotName", $"'{name}' is not a valid snapshot name: digits only would be mistaken for a qcow2 snapshot id; add a letter.", name)
            : name;
    }

    public IReadOnlyList<VolumeSnapshot> List(SparseVolume volume) =>
        (volume.Format == VolumeFormat.Qcow2 ? Qcow2InternalSnapshots.List(volume) : RawSnapshotStore.List(volume)).ToList();

    /// <summary>Snapshots whose names match any pattern; a pattern without wildcards that matches nothing goes to <paramref name="onMissing"/> (thrown when null).</summary>
    public IEnumerable<VolumeSnapshot> Get(SparseVolume volume, IReadOnlyList<string> namePatterns, Action<SnapshotNotFoundException>? onMissing = null)
    {
        var patterns = namePatterns.Count == 0 ? [new NamePattern("*")] : namePatterns.Select(p => new NamePattern(p)).ToList();
        var snapshots = List(volume);
        foreach (var snapshot in snapshots.Where(s => patterns.Any(p => p.IsMatch(s.Name))))
            yield return snapshot;
        foreach (var missing in patterns.Where(p => !p.HasWildcards && !snapshots.Any(s => p.IsMatch(s.Name))))
        {
            var error = NotFound(volume, missing.Text, snapshots);
            if (onMissing is null)
                throw error;
            onMissing(error);
        }
    }

    /// <summary>The snapshot with this name: an exact match, else the only one whose name differs in case alone.</summary>
    public VolumeSnapshot Find(SparseVolume volume, string name)
    {
        var snapshots = List(volume);
        var ignoringCase = snapshots.Where(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)).ToList();
        return snapshots.FirstOrDefault(s => s.Name == name)
               ?? (ignoringCase.Count == 1 ? ignoringCase[0] : throw NotFound(volume, name, snapshots));
    }

    /// <summary>What consistency a snapshot of the volume would have now (for a warning before -Force).</summary>
    public WriteConsistency Assess(SparseVolume volume) => FileSystemFreeze.Assess(volume, context.ReadAttachments().Of(volume.Path));

    public VolumeSnapshot Create(SparseVolume volume, string name, bool force, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        RequireValidName(name);
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(volume.Path);
        if (List(current).Any(s => s.Name == name))
            throw new ResourceExistsException("SnapshotExists", $"Volume '{current.Name}' already has a snapshot named '{name}'; choose another name or remove it first.", name);
        if (current.Format == VolumeFormat.Qcow2)
            new BackingChains(context).RequireNoDependants(current, "snapshotted (an internal snapshot rewrites its metadata)");
        var attachment = context.ReadAttachments().Of(current.Path);
        using (FileSystemFreeze.Begin(context, current, attachment, force, "snapshot it", cancellationToken))
        {
            if (current.Format == VolumeFormat.Qcow2)
                new Qcow2InternalSnapshots(context).Create(current, attachment, name, cancellationToken);
            else
                return RawSnapshotStore.Create(current, name, progress, cancellationToken);
        }
        return Find(current, name);
    }

    /// <summary>Brings the volume back to the snapshot; the current state is lost. Refused while the volume is in use or is a base image.</summary>
    public SparseVolume Restore(VolumeSnapshot snapshot, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(snapshot.VolumePath, cancellationToken);
        var volume = new VolumeCatalog(context).Get(snapshot.VolumePath);
        var current = Find(volume, snapshot.Name);
        var attachment = context.ReadAttachments().Of(volume.Path);
        if (attachment.IsAttached)
            throw new VolumeInUseException($"Volume '{volume.Name}' cannot be restored to snapshot '{current.Name}': it is {attachment.Describe()}. Dismount it first.", volume.Path);
        new BackingChains(context).RequireNoDependants(volume, "restored");
        if (volume.Format == VolumeFormat.Qcow2)
            new Qcow2InternalSnapshots(context).Apply(current, cancellationToken);
        else
            RawSnapshotStore.Restore(current, progress, cancellationToken);
        return new VolumeCatalog(context).Get(volume.Path);
    }

    public void Remove(VolumeSnapshot snapshot, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(snapshot.VolumePath, cancellationToken);
        var volume = new VolumeCatalog(context).Get(snapshot.VolumePath);
        var current = Find(volume, snapshot.Name);
        if (volume.Format == VolumeFormat.Qcow2)
            new Qcow2InternalSnapshots(context).Delete(current, context.ReadAttachments().Of(volume.Path), cancellationToken);
        else
            RawSnapshotStore.Remove(current, wipe: false, progress, cancellationToken);
    }

    private static SnapshotNotFoundException NotFound(SparseVolume volume, string name, IReadOnlyList<VolumeSnapshot> snapshots) =>
        new($"Volume '{volume.Name}' has no snapshot named '{name}'" +
            (snapshots.Count == 0 ? "; it has no snapshots." : $"; its snapshots are: {string.Join(", ", snapshots.Select(s => s.Name))}."), name);
}
