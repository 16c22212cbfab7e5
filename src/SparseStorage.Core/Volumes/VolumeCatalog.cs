using SparseStorage.Core.Host;
using SparseStorage.Core.Pools;

namespace SparseStorage.Core.Volumes;

/// <summary>Finds and describes volumes: by name (wildcards) within pools, or by file or directory path.</summary>
public sealed class VolumeCatalog(StorageContext context)
{
    /// <summary>
    /// Volumes whose names match any pattern, in the named pool or in every pool. A pattern without wildcards that
    /// matches nothing is reported to <paramref name="onMissing"/> (thrown when it is null) after the matches.
    /// </summary>
    public IEnumerable<SparseVolume> ByName(IReadOnlyList<string> namePatterns, string? pool = null, Action<VolumeNotFoundException>? onMissing = null)
    {
        var pools = pool is null ? context.Pools.Definitions() : [context.Pools.Find(pool)];
        var patterns = namePatterns.Select(p => new NamePattern(p)).ToList();
        var inspector = new VolumeInspector(context.ReadAttachments());
        var unmatched = patterns.Where(p => !p.HasWildcards).ToHashSet();
        foreach (var definition in pools)
        {
            foreach (var file in PoolService.VolumeFiles(definition.Path))
            {
                var name = VolumeInspector.NameOf(file);
                var hits = patterns.Where(p => p.IsMatch(name)).ToList();
                if (hits.Count == 0 || PoolService.TryInspect(inspector, file, definition.Name) is not { } volume)
                    continue;
                unmatched.ExceptWith(hits);
                yield return volume;
            }
        }
        foreach (var missing in unmatched)
        {
            var error = new VolumeNotFoundException(
                $"No volume named '{missing.Text}' in {(pool is null ? "any registered pool" : $"pool '{pool}'")}.", missing.Text);
            if (onMissing is null)
                throw error;
            onMissing(error);
        }
    }

    /// <summary>
    /// Volumes attached to loop devices that match any pattern ("/dev/loop3", "loop3", "/dev/loop*"), including an
    /// encrypted volume whose loop device sits on its plaintext view. A pattern without wildcards that matches no
    /// volume is reported to <paramref name="onMissing"/> (thrown when it is null), saying what the device holds instead.
    /// </summary>
    public IEnumerable<SparseVolume> ByLoopDevice(IReadOnlyList<string> devicePatterns, Action<VolumeNotFoundException>? onMissing = null)
    {
        var patterns = devicePatterns.Select(p => new NamePattern(p.StartsWith('/') ? p : "/dev/" + p)).ToList();
        var attachments = context.ReadAttachments();
        var inspector = new VolumeInspector(attachments);
        var unmatched = patterns.Where(p => !p.HasWildcards).ToHashSet();
        foreach (var definition in context.Pools.Definitions())
        {
            foreach (var file in PoolService.VolumeFiles(definition.Path))
            {
                var hits = attachments.Of(file).LoopDevice is { } loop ? patterns.Where(p => p.IsMatch(loop)).ToList() : [];
                if (hits.Count == 0 || PoolService.TryInspect(inspector, file, definition.Name) is not { } volume)
                    continue;
                unmatched.ExceptWith(hits);
                yield return volume;
            }
        }
        foreach (var missing in unmatched)
        {
            var error = new VolumeNotFoundException(DescribeUnclaimed(missing.Text), missing.Text);
            if (onMissing is null)
                throw error;
            onMissing(error);
        }
    }

    private static string DescribeUnclaimed(string device) =>
        LoopDevices.Read().FirstOrDefault(l => l.Device == device) is { } loop
            ? $"'{device}' is attached to '{loop.BackingFile}', which is not a volume of a registered pool."
            : $"'{device}' is not an attached loop device.";

    /// <summary>The volume at a file path, or every volume in a directory. The path must lie in a registered pool.</summary>
    public IEnumerable<SparseVolume> ByPath(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
            return InDirectory(full);
        if (!File.Exists(full))
            throw new VolumeNotFoundException($"No volume file at '{path}'.", path);
        return [Get(path)];
    }

    /// <summary>One volume by path, freshly read (attachment state included).</summary>
    public SparseVolume Get(string path)
    {
        var (resolved, pool) = context.Pools.Confine(path);
        if (!File.Exists(resolved))
            throw new VolumeNotFoundException($"No volume file at '{path}'.", path);
        try
        {
            return new VolumeInspector(context.ReadAttachments()).Inspect(resolved, pool.Name);
        }
        catch (InvalidDataException e)
        {
            throw new StorageOperationException("InvalidVolumeImage", $"'{resolved}' is not an image the module can read: {e.Message}.", resolved, e);
        }
    }

    /// <summary>Exactly one volume by name; more than one match across pools is an error that lists them.</summary>
    public SparseVolume Single(string name, string? pool)
    {
        var matches = ByName([Names.RequireValid(name, "Volume")], pool).ToList();
        return matches.Count == 1 ? matches[0]
            : throw new InvalidStorageArgumentException("AmbiguousVolumeName",
                $"'{name}' names {matches.Count} volumes ({string.Join(", ", matches.Select(v => v.Path))}); give -Pool or -Path.", name);
    }

    private IEnumerable<SparseVolume> InDirectory(string directory)
    {
        var resolved = Native.LibcPaths.RealPath(directory) ?? directory;
        var pool = context.Pools.Definitions().FirstOrDefault(p => p.Path == resolved)
                   ?? context.Pools.Confine(resolved).Pool;
        var inspector = new VolumeInspector(context.ReadAttachments());
        return PoolService.VolumeFiles(resolved).Select(f => PoolService.TryInspect(inspector, f, pool.Name)).OfType<SparseVolume>();
    }
}
