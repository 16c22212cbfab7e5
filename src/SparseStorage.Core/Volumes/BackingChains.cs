namespace SparseStorage.Core.Volumes;

/// <summary>Linked clones: qcow2 volumes in any pool whose backing file is a given image.</summary>
public sealed class BackingChains(StorageContext context)
{
    /// <summary>
    /// The volumes that read through <paramref name="basePath"/>; changing or removing it would corrupt them. An overlay
    /// whose backing file lies outside its own pool is not one: the module never opens it, and counting it would let
    /// another tenant lock a volume's owner out of their own volume.
    /// </summary>
    public IReadOnlyList<SparseVolume> DependantsOf(string basePath) =>
        new VolumeCatalog(context).ByName(["*"], onMissing: _ => { })
            .Where(v => v.BackingFile is not null && v.ReferenceRefusal is null && ResolveBacking(v) == basePath)
            .ToList();

    /// <summary>A backing file name as qemu resolves it: relative names are relative to the overlay's directory.</summary>
    public static string ResolveBacking(SparseVolume overlay)
    {
        var combined = System.IO.Path.GetFullPath(overlay.BackingFile!, System.IO.Path.GetDirectoryName(overlay.Path)!);
        return Native.LibcPaths.RealPath(combined) ?? combined;
    }

    /// <summary>Refuses an operation that would change a base image under its linked clones, naming them.</summary>
    public void RequireNoDependants(SparseVolume volume, string operation)
    {
        var dependants = DependantsOf(volume.Path);
        if (dependants.Count > 0)
            throw new VolumeInUseException(
                $"Volume '{volume.Name}' is the base image of {dependants.Count} linked clone(s) ({string.Join(", ", dependants.Select(d => d.Path))}); " +
                $"it cannot be {operation} while they read through it. Remove the clones first.", volume.Path);
    }
}
