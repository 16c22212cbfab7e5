using SparseStorage.Core.Ceph;
using SparseStorage.Core.Host;
using SparseStorage.Core.Pools;

namespace SparseStorage.Core.Volumes;

/// <summary>Finds and describes volumes: by name (wildcards) within pools, by loop device, or by file or directory path.</summary>
public sealed class VolumeCatalog(StorageContext context)
{
    /// <summary>
    /// Volumes whose names match any pattern, in the named pool or in every pool. A pattern without wildcards that
    /// matches nothing is reported to <paramref name="onMissing"/> (thrown when it is null) after the matches.
    /// </summary>
    public IEnumerable<SparseVolume> ByName(IReadOnlyList<string> namePatterns, string? pool = null, Action<VolumeNotFoundException>? onMissing = null) =>
        Matching(pool is null ? context.Pools.Definitions() : [context.Pools.Find(pool)], namePatterns,
            (file, _) => VolumeInspector.NameOf(file),
            image => image.Name,
            missing => $"No volume named '{missing}' in {(pool is null ? "any registered pool" : $"pool '{pool}'")}.", onMissing);

    /// <summary>
    /// Volumes attached to loop devices that match any pattern ("/dev/loop3", "loop3", "/dev/loop*"), including an
    /// encrypted volume whose loop device sits on its plaintext view. A pattern without wildcards that matches no
    /// volume is reported to <paramref name="onMissing"/> (thrown when it is null), saying what the device holds instead.
    /// </summary>
    public IEnumerable<SparseVolume> ByLoopDevice(IReadOnlyList<string> devicePatterns, Action<VolumeNotFoundException>? onMissing = null) =>
        Matching(context.Pools.Definitions(), devicePatterns.Select(p => p.StartsWith('/') ? p : "/dev/" + p).ToList(),
            (file, attachments) => attachments.Of(file).LoopDevice, _ => null, DescribeUnclaimed, onMissing);

    /// <summary>
    /// The volumes of <paramref name="pools"/> whose key (a name, a device) matches any pattern; then each pattern
    /// without wildcards that matched nothing, reported to <paramref name="onMissing"/> or thrown. A Ceph pool's images
    /// are keyed by <paramref name="imageKeyOf"/>.
    /// </summary>
    private IEnumerable<SparseVolume> Matching(IEnumerable<PoolDefinition> pools, IReadOnlyList<string> patternTexts,
        Func<string, AttachmentState, string?> keyOf, Func<RbdImage, string?> imageKeyOf, Func<string, string> describeMissing,
        Action<VolumeNotFoundException>? onMissing)
    {
        var patterns = patternTexts.Select(p => new NamePattern(p)).ToList();
        var attachments = context.ReadAttachments();
        var inspector = Inspector(attachments);
        var unmatched = patterns.Where(p => !p.HasWildcards).ToHashSet();
        foreach (var definition in pools)
        {
            if (definition.IsCeph)
            {
                foreach (var volume in MatchingImages(definition, patterns, imageKeyOf, unmatched))
                    yield return volume;
                continue;
            }
            foreach (var file in PoolService.VolumeFiles(definition.Path))
            {
                var key = keyOf(file, attachments);
                var hits = key is null ? [] : patterns.Where(p => p.IsMatch(key)).ToList();
                if (hits.Count == 0 || PoolService.TryInspect(inspector, file, definition.Name) is not { } volume)
                    continue;
                unmatched.ExceptWith(hits);
                yield return volume;
            }
        }
        foreach (var missing in unmatched)
        {
            var error = new VolumeNotFoundException(describeMissing(missing.Text), missing.Text);
            if (onMissing is null)
                throw error;
            onMissing(error);
        }
    }

    /// <summary>The images of a Ceph pool whose key matches: one listing of the pool, then one librados read per match.</summary>
    private IEnumerable<SparseVolume> MatchingImages(PoolDefinition definition, IReadOnlyList<NamePattern> patterns,
        Func<RbdImage, string?> keyOf, HashSet<NamePattern> unmatched)
    {
        var pool = new CephPool(context.Runner, definition);
        var hits = pool.Images().Select(i => (Image: i, Hits: keyOf(i) is { } key ? patterns.Where(p => p.IsMatch(key)).ToList() : [])).Where(m => m.Hits.Count > 0).ToList();
        foreach (var (_, matched) in hits)
            unmatched.ExceptWith(matched);
        return pool.Volumes(hits.Select(h => h.Image).ToList(), context.ReadAttachments());
    }

    private static string DescribeUnclaimed(string device) =>
        LoopDevices.Read().FirstOrDefault(l => l.Device == device) is { } loop
            ? $"'{device}' is attached to '{loop.BackingFile}', which is not a volume of a registered pool."
            : $"'{device}' is not an attached loop device.";

    /// <summary>The volume at a file path, or every volume in a directory. The path must lie in a registered pool.</summary>
    public IEnumerable<SparseVolume> ByPath(string path)
    {
        if (CephPoolSettings.IsRbdPath(path))
            return [Get(path)];
        var full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
            return InDirectory(full);
        if (!File.Exists(full))
            throw new VolumeNotFoundException($"No volume file at '{path}'.", path);
        return [Get(path)];
    }

    /// <summary>
    /// One volume by path, freshly read (attachment state included). A file that is not a plain volume is refused
    /// (<see cref="UnsafeVolumeFileException"/>), and so is an image referring to files outside its pool unless
    /// <paramref name="allowOutsideReferences"/> (removal, which hands the image to no tool).
    /// </summary>
    public SparseVolume Get(string path, bool allowOutsideReferences = false)
    {
        if (CephPoolSettings.IsRbdPath(path))
            return CephImage(path);
        // Links in the directories of a path are the operator's; a volume file that is itself a link is a second name
        // for another file, which a tenant could point at another tenant's volume.
        if (VolumeFile.IsLink(System.IO.Path.GetFullPath(path)))
            throw new UnsafeVolumeFileException($"'{path}' is a symbolic link; volumes are never used through links. Name the volume itself.", path);
        var (resolved, pool) = context.Pools.Confine(path);
        if (!File.Exists(resolved))
            throw new VolumeNotFoundException($"No volume file at '{path}'.", path);
        try
        {
            var volume = Inspector(context.ReadAttachments()).Inspect(resolved, pool.Name);
            if (volume.ReferenceRefusal is { } refusal && !allowOutsideReferences)
                throw ImageReferences.Refused(resolved, refusal);
            return volume;
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

    /// <summary>The image an "rbd:POOL[/NAMESPACE]/IMAGE" path names, in the registered Ceph pool of that location.</summary>
    private SparseVolume CephImage(string path)
    {
        foreach (var definition in context.Pools.Definitions().Where(d => d.IsCeph))
            if (definition.Ceph!.ImageOf(path) is { } image)
                return new CephPool(context.Runner, definition).Volume(image, attachments: context.ReadAttachments());
        throw new PathOutsidePoolException($"'{path}' names no image of a registered Ceph pool; register its pool with Register-StoragePool -CephPool.", path);
    }

    private IEnumerable<SparseVolume> InDirectory(string directory)
    {
        var resolved = Native.LibcPaths.RealPath(directory) ?? directory;
        var pool = context.Pools.Definitions().FirstOrDefault(p => p.Path == resolved)
                   ?? context.Pools.Confine(resolved).Pool;
        var inspector = Inspector(context.ReadAttachments());
        return PoolService.VolumeFiles(resolved).Select(f => PoolService.TryInspect(inspector, f, pool.Name)).OfType<SparseVolume>();
    }

    private VolumeInspector Inspector(AttachmentState attachments) => new(attachments, new ImageReferences(context.Pools.DirectoryDefinitions()));
}
