using SparseStorage.Core.Devices;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Backups;

public sealed record RemoveBackupRequest(string SetDirectory)
{
    /// <summary>Also remove the later sets that build on this one; without it such a set is refused.</summary>
    public bool IncludeDependants { get; init; }
}

/// <summary>Keep the newest <paramref name="Keep"/> sets of one volume's backup folder and every set their chains need.</summary>
public sealed record KeepBackupsRequest(string VolumeFolder, int Keep);

/// <summary>A backup snapshot on the RBD image of a Ceph volume, which the next incremental into its folder would start from.</summary>
public sealed record RbdBackupSnapshot(string VolumePath, string Image, string Snapshot)
{
    public string RemoveStep => $"Remove RBD snapshot {Snapshot} of image {Image}, which no backup set names any more";
}

/// <summary>Backup sets to remove from one volume's backup folder, in the order they go: later sets before those they build on.</summary>
public sealed record RemoveBackupSetsPlan(string VolumeFolder, IReadOnlyList<VolumeBackup> Sets) : OperationPlan
{
    /// <summary>Set for retention (-Keep): how many of the newest sets stay.</summary>
    public int? Keep { get; init; }

    /// <summary>The folder's sets (name and manifest checksum) when the plan was made; Apply refuses if they changed.</summary>
    internal IReadOnlyList<string> SetsSeen { get; init; } = [];

    public override string Target => Keep is null ? Sets[^1].BackupPath : VolumeFolder;

    public override string Action => Keep is { } keep ? $"Keep the newest {keep} backup set(s) in {VolumeFolder} and what their chains need"
        : Sets.Count > 1 ? $"Remove backup set {Sets[^1].Name} and the {Sets.Count - 1} set(s) that build on it"
        : $"Remove backup set {Sets[^1].Name} ({ByteSize.Format(Sets[^1].StoredBytes)} stored)";

    /// <summary>The RBD snapshots of Ceph volumes that no set of the folder names once these sets are gone.</summary>
    public IReadOnlyList<RbdBackupSnapshot> RbdSnapshots { get; init; } = [];

    public override IReadOnlyList<string> Steps =>
        Sets.Select(s => RemoveStep(s.BackupPath)).Concat(RbdSnapshots.Select(s => s.RemoveStep)).ToList();

    public override string? ConfirmationQuery => Sets.Count == 0 ? null
        : $"{Sets.Count} backup set(s) of '{Sets[0].Source}' ({string.Join(", ", Sets.Select(s => s.Name))}) are deleted with {ByteSize.Format(Sets.Sum(s => s.StoredBytes))} of stored data; the volume can no longer be restored to them. Remove them?";

    public static string RemoveStep(string setDirectory) => $"Remove backup set {setDirectory}";
}

/// <summary>
/// Removing backup sets without breaking a chain: a set that later sets build on is removed only together with
/// them (when asked), never alone; retention keeps the newest sets and everything their chains need. Chains are not
/// merged forward: to let old sets go, make a new full backup. Every change holds the lock of the volume's backup
/// folder, which a backup into that folder holds too, so a backup and a removal of the same chain never interleave.
/// </summary>
public sealed class BackupSetService(StorageContext context)
    : IPlannedOperation<RemoveBackupRequest, RemoveBackupSetsPlan, IReadOnlyList<VolumeBackup>>,
      IPlannedOperation<KeepBackupsRequest, RemoveBackupSetsPlan, IReadOnlyList<VolumeBackup>>
{
    /// <summary>The exclusive lock of one volume's backup folder (a lock file keyed by the folder, beside the volumes' locks).</summary>
    public FileLock LockFolder(string volumeFolder, CancellationToken cancellationToken = default)
    {
        var folder = LibcPaths.RealPath(volumeFolder) ?? Path.GetFullPath(volumeFolder);
        return FileLock.Acquire(Path.Combine(context.Runtime.Ensure(context.Runtime.Locks), "backups-" + FuseExportRecord.KeyFor(folder) + ".lock"),
            context.LockWait, $"backup folder {folder}", cancellationToken);
    }

    /// <summary>The set and, with <see cref="RemoveBackupRequest.IncludeDependants"/>, the sets that build on it; refused when it has dependants and that is not set.</summary>
    public RemoveBackupSetsPlan Plan(RemoveBackupRequest request)
    {
        var set = BackupCatalog.RequireSet(Path.GetFullPath(request.SetDirectory));
        var backup = BackupCatalog.Describe(set);
        var dependants = DependantsOf(set);
        if (dependants.Count > 0 && !request.IncludeDependants)
            throw new SparseStorageException("BackupHasDependants", StorageErrorKind.ResourceBusy,
                $"Backup set {set} is the base of {dependants.Count} later set(s) ({string.Join(", ", dependants.Select(Path.GetFileName))}); removing it alone would break their chain. Use -IncludeDependants to remove them too, or keep it.",
                set);
        var folder = Path.GetDirectoryName(set)!;
        return WithRbdSnapshots(new RemoveBackupSetsPlan(folder, dependants.Reverse().Select(BackupCatalog.Describe).Append(backup).ToList())
        {
            Impact = PlanImpact.High, SetsSeen = Fingerprint(folder),
        });
    }

    /// <summary>The sound sets that fall outside the newest <see cref="KeepBackupsRequest.Keep"/> and their chains; damaged sets are never removed here.</summary>
    public RemoveBackupSetsPlan Plan(KeepBackupsRequest request) => WithRbdSnapshots(PlanKeep(request.VolumeFolder, request.Keep));

    /// <summary>Removes the planned sets under the folder's lock, after checking that the folder's sets are still those the plan saw.</summary>
    public IReadOnlyList<VolumeBackup> Apply(RemoveBackupSetsPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var folderLock = LockFolder(plan.VolumeFolder, cancellationToken);
        RequireUnchanged(plan.VolumeFolder, plan.SetsSeen);
        var steps = StepRunner.ForApply(context, progress, $"Removing backup sets in {plan.VolumeFolder}", cancellationToken);
        var removed = Remove(plan, steps);
        foreach (var snapshot in plan.RbdSnapshots)
            steps.Do(snapshot.RemoveStep, () => Ceph.CephBackupSnapshots.Remove(context, snapshot));
        return removed;
    }

    /// <summary>
    /// The plan with the backup snapshots its Ceph sets leave behind: a Ceph volume's backup keeps its snapshot on the
    /// image for the next incremental, and once no set of the folder names it, nothing starts from it again. Only
    /// snapshots of this folder's own prefix that are on the image now are listed; an image that cannot be asked
    /// keeps them, with a warning.
    /// </summary>
    private RemoveBackupSetsPlan WithRbdSnapshots(RemoveBackupSetsPlan plan)
    {
        var removed = plan.Sets.Select(s => s.BackupPath).ToHashSet(StringComparer.Ordinal);
        var named = BackupCatalog.SetDirectories(plan.VolumeFolder).Where(s => !removed.Contains(s)).Select(RbdSnapshotOf).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var orphans = plan.Sets.Select(s => (s.SourcePath, Snapshot: RbdSnapshotOf(s.BackupPath)))
            .Where(o => o.Snapshot is not null && !named.Contains(o.Snapshot)).GroupBy(o => o.SourcePath, o => o.Snapshot!);
        var (snapshots, warnings) = (new List<RbdBackupSnapshot>(), plan.Warnings.ToList());
        foreach (var volume in orphans)
            snapshots.AddRange(Ceph.CephBackupSnapshots.Present(context, volume.Key, plan.VolumeFolder, volume.ToList(), warnings));
        return plan with { RbdSnapshots = snapshots, Warnings = warnings };
    }

    private static string? RbdSnapshotOf(string set)
    {
        try
        {
            return BackupManifest.Load(set).Manifest.Rbd?.Snapshot;
        }
        catch (BackupDamagedException)
        {
            return null;
        }
    }

    /// <summary>
    /// The sets retention removes. A backup plans its retention before its new set exists: with
    /// <paramref name="beforeNewSet"/> the set about to be written (built on <paramref name="newSetParent"/>, null for a
    /// full set) counts as the newest, and is never removed.
    /// </summary>
    internal RemoveBackupSetsPlan PlanKeep(string volumeFolder, int keep, bool beforeNewSet = false, string? newSetParent = null)
    {
        if (keep < 1)
            throw new InvalidStorageArgumentException("InvalidKeep", "-Keep must be at least 1: the newest backup is always kept.", keep);
        var parents = ParentsByName(volumeFolder);
        if (beforeNewSet)
            parents[NewSet] = newSetParent;
        var kept = parents.Keys.Order(StringComparer.Ordinal).TakeLast(keep).ToList();
        var needed = kept.SelectMany(set => Ancestors(set, parents).Append(set)).ToHashSet();
        var expired = parents.Keys.Where(set => !needed.Contains(set)).Order(StringComparer.Ordinal).Reverse()
            .Select(set => BackupCatalog.Describe(Path.Combine(volumeFolder, set))).ToList();
        return new RemoveBackupSetsPlan(volumeFolder, expired) { Keep = keep, Impact = PlanImpact.High, SetsSeen = Fingerprint(volumeFolder) };
    }

    /// <summary>Runs the removals of a plan as its steps, under a folder lock the caller holds.</summary>
    internal static IReadOnlyList<VolumeBackup> Remove(RemoveBackupSetsPlan plan, StepRunner steps)
    {
        foreach (var set in plan.Sets)
            steps.Do(RemoveBackupSetsPlan.RemoveStep(set.BackupPath), () => Delete(set.BackupPath));
        return plan.Sets;
    }

    /// <summary>The sets in a volume's backup folder, each by name and manifest checksum ("damaged" when it cannot be read).</summary>
    internal static IReadOnlyList<string> Fingerprint(string volumeFolder)
    {
        if (!Directory.Exists(volumeFolder))
            return [];
        return BackupCatalog.SetDirectories(volumeFolder).Select(set =>
        {
            try
            {
                return $"{Path.GetFileName(set)} {BackupManifest.Load(set).Checksum}";
            }
            catch (BackupDamagedException)
            {
                return $"{Path.GetFileName(set)} damaged";
            }
        }).ToList();
    }

    /// <summary>Apply works on the sets the plan saw: a set added, removed or rewritten since makes it refuse.</summary>
    internal static void RequireUnchanged(string volumeFolder, IReadOnlyList<string> seen)
    {
        var now = Fingerprint(volumeFolder);
        if (!now.SequenceEqual(seen))
            throw new StorageOperationException("ChangedSincePlanned",
                $"The backup sets in {volumeFolder} changed after the plan was made ({string.Join(", ", seen.Select(s => s.Split(' ')[0]).DefaultIfEmpty("none"))} then, " +
                $"{string.Join(", ", now.Select(s => s.Split(' ')[0]).DefaultIfEmpty("none"))} now); nothing was changed. Run the command again.", volumeFolder);
    }

    /// <summary>A name that sorts after every set name: the set a backup is about to write.</summary>
    private const string NewSet = "\uffff";

    /// <summary>The sets of the same volume that build on <paramref name="setDirectory"/>, directly or further down, oldest first.</summary>
    private static IReadOnlyList<string> DependantsOf(string setDirectory)
    {
        var name = Path.GetFileName(setDirectory);
        var parents = ParentsByName(Path.GetDirectoryName(setDirectory)!);
        return parents.Keys.Where(set => set != name && Ancestors(set, parents).Contains(name))
            .Select(set => Path.Combine(Path.GetDirectoryName(setDirectory)!, set)).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Parent names of the sets whose manifests are sound; damaged sets are left out (and never removed by retention).</summary>
    private static Dictionary<string, string?> ParentsByName(string volumeFolder)
    {
        var parents = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (!Directory.Exists(volumeFolder))
            return parents;
        foreach (var set in BackupCatalog.SetDirectories(volumeFolder))
        {
            try
            {
                parents[Path.GetFileName(set)] = BackupManifest.Load(set).Manifest.Parent;
            }
            catch (BackupDamagedException)
            {
            }
        }
        return parents;
    }

    private static IEnumerable<string> Ancestors(string set, Dictionary<string, string?> parents)
    {
        var seen = new HashSet<string>();
        while (parents.TryGetValue(set, out var parent) && parent is not null && seen.Add(parent))
        {
            yield return parent;
            set = parent;
        }
    }

    /// <summary>Renames the set out of sight first, so an interrupted removal never leaves a half set that looks whole.</summary>
    private static void Delete(string setDirectory)
    {
        ForgetReference(setDirectory);
        var hidden = Path.Combine(Path.GetDirectoryName(setDirectory)!, "." + Path.GetFileName(setDirectory) + ".removing");
        Directory.Move(setDirectory, hidden);
        Directory.Delete(hidden, recursive: true);
    }

    /// <summary>The reference clone a set left is useless once the set is gone; a damaged set's manifest cannot name it and is removed all the same.</summary>
    private static void ForgetReference(string setDirectory)
    {
        try
        {
            var manifest = BackupManifest.Load(setDirectory).Manifest;
            ChangeReferences.Forget(manifest.VolumePath, manifest.ChangeReference);
        }
        catch (BackupDamagedException)
        {
        }
    }
}
