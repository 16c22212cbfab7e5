namespace SparseStorage.Core.Backups;

/// <summary>
/// Removing backup sets without breaking a chain: a set that later sets build on is removed only together with
/// them (when asked), never alone; pruning keeps the newest sets and everything their chains need. Chains are not
/// merged forward: to let old sets go, make a new full backup.
/// </summary>
public static class BackupRetention
{
    /// <summary>The sets of the same volume that build on <paramref name="setDirectory"/>, directly or further down.</summary>
    public static IReadOnlyList<string> DependantsOf(string setDirectory)
    {
        var name = Path.GetFileName(setDirectory);
        var parents = ParentsByName(Path.GetDirectoryName(setDirectory)!);
        return parents.Keys.Where(set => set != name && Ancestors(set, parents).Contains(name))
            .Select(set => Path.Combine(Path.GetDirectoryName(setDirectory)!, set)).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The sets a removal would take with it; refused when there are any and <paramref name="includeDependants"/> is not set.</summary>
    public static IReadOnlyList<string> RequireRemovable(string setDirectory, bool includeDependants)
    {
        var dependants = DependantsOf(setDirectory);
        return dependants.Count == 0 || includeDependants ? dependants
            : throw new SparseStorageException("BackupHasDependants", StorageErrorKind.ResourceBusy,
                $"Backup set {setDirectory} is the base of {dependants.Count} later set(s) ({string.Join(", ", dependants.Select(Path.GetFileName))}); removing it alone would break their chain. Use -IncludeDependants to remove them too, or keep it.",
                setDirectory);
    }

    /// <summary>Removes a set; with dependants it is refused unless <paramref name="includeDependants"/>, which removes them first. Returns what was removed.</summary>
    public static IReadOnlyList<string> Remove(string setDirectory, bool includeDependants)
    {
        var dependants = RequireRemovable(setDirectory, includeDependants);
        var removed = dependants.Reverse().Append(setDirectory).ToList();
        foreach (var set in removed)
            Delete(set);
        return removed;
    }

    /// <summary>Keeps the newest <paramref name="keep"/> sound sets of a volume and every set their chains need; removes the other sound sets.</summary>
    public static IReadOnlyList<string> Prune(string volumeFolder, int keep)
    {
        if (keep < 1)
            throw new InvalidStorageArgumentException("InvalidKeep", "-Keep must be at least 1: the newest backup is always kept.", keep);
        var parents = ParentsByName(volumeFolder);
        var kept = parents.Keys.Order(StringComparer.Ordinal).TakeLast(keep).ToList();
        var needed = kept.SelectMany(set => Ancestors(set, parents).Append(set)).ToHashSet();
        var removed = parents.Keys.Where(set => !needed.Contains(set)).Order(StringComparer.Ordinal)
            .Select(set => Path.Combine(volumeFolder, set)).ToList();
        foreach (var set in removed)
            Delete(set);
        return removed;
    }

    /// <summary>Parent names of the sets whose manifests are sound; damaged sets are left out (and never removed here).</summary>
    private static Dictionary<string, string?> ParentsByName(string volumeFolder)
    {
        var parents = new Dictionary<string, string?>(StringComparer.Ordinal);
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
