using SparseStorage.Core.Ceph;
using SparseStorage.Core.Host;
using SparseStorage.Core.Leftovers;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Pools;

/// <summary>Registers pools, computes their accounting, and confines volume paths to them.</summary>
public sealed class PoolService(PoolConfiguration configuration, IProcessRunner? runner = null)
{
    private readonly IProcessRunner runner = runner ?? new ProcessRunner();

    public string ConfigurationPath => configuration.FilePath;

    /// <summary>The registered directory pools: the pools whose volumes are files.</summary>
    public IReadOnlyList<PoolDefinition> DirectoryDefinitions() => Definitions().Where(p => !p.IsCeph).ToList();

    /// <summary>The registered pools the module may act on: those whose directory passes <see cref="PoolPathRules"/>.</summary>
    public IReadOnlyList<PoolDefinition> Definitions() => Checked().Where(p => p.Refusal is null).Select(p => p.Pool).ToList();

    /// <summary>
    /// Pools registered before <see cref="PoolPathRules"/> existed whose directory it refuses: nothing acts on them;
    /// listings warn about them, and Unregister-StoragePool removes them.
    /// </summary>
    public IReadOnlyList<RefusedPool> Refused() =>
        Checked().Where(p => p.Refusal is not null).Select(p => new RefusedPool(p.Pool, p.Refusal!)).ToList();

    private IEnumerable<(PoolDefinition Pool, string? Refusal)> Checked()
    {
        var pools = configuration.Load();
        if (pools.Count == 0)
            return [];
        var mounts = MountTable.Read();
        return pools.Select(p => (p, p.IsCeph ? null : PoolPathRules.Refusal(LibcPaths.RealPath(p.Path) ?? p.Path, mounts)));
    }

    /// <summary>
    /// Checks a registration without writing anything: a valid name and limit, an existing directory the path rules
    /// allow, and no registered pool of that name or overlapping it. Returns the directory, resolved.
    /// </summary>
    public string CheckRegistration(string name, string path, double? maxOvercommit)
    {
        Names.RequireValid(name, "Pool");
        ProvisioningGuard.RequireValidLimit(maxOvercommit);
        var directory = LibcPaths.RealPath(path);
        if (directory is null || !Directory.Exists(directory))
            throw new InvalidStorageArgumentException("PoolPathNotFound", $"The pool directory '{path}' does not exist or is not a directory.", path);
        PoolPathRules.Require(name, directory, MountTable.Read());
        RequireNoConflict(configuration.Load(), name, directory);
        return directory;
    }

    public StoragePool Register(string name, string path, double? maxOvercommit = null)
    {
        var directory = CheckRegistration(name, path, maxOvercommit);
        configuration.Update(pools =>
        {
            RequireNoConflict(pools, name, directory);
            return [.. pools, new PoolDefinition(name, directory, maxOvercommit)];
        });
        return Describe(new PoolDefinition(name, directory, maxOvercommit));
    }

    /// <summary>
    /// Adds a Ceph pool to the configuration (the checks against the cluster are <see cref="CephPoolRegistration"/>'s);
    /// refused when the name is taken or another pool already names the same RBD pool and namespace of the same cluster.
    /// </summary>
    public PoolDefinition AddCeph(string name, CephPoolSettings settings, double? maxOvercommit = null)
    {
        Names.RequireValid(name, "Pool");
        ProvisioningGuard.RequireValidLimit(maxOvercommit);
        var definition = new PoolDefinition(name, settings.Location, maxOvercommit, settings);
        configuration.Update(pools =>
        {
            if (pools.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) is { } same)
                throw new ResourceExistsException("PoolExists", $"A pool named '{same.Name}' is already registered at {same.Path}.", name);
            if (pools.FirstOrDefault(p => p.Ceph is { } other && other.ConfigPath == settings.ConfigPath && other.Location == settings.Location) is { } twin)
                throw new ResourceExistsException("PoolOverlaps", $"Pool '{twin.Name}' already is {settings.Location} of the cluster of {settings.ConfigPath}.", name);
            return [.. pools, definition];
        });
        return definition;
    }

    private static void RequireNoConflict(IReadOnlyList<PoolDefinition> pools, string name, string directory)
    {
        if (pools.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) is { } same)
            throw new ResourceExistsException("PoolExists", $"A pool named '{same.Name}' is already registered at {same.Path}.", name);
        if (pools.FirstOrDefault(p => !p.IsCeph && (MountTable.IsUnder(directory, p.Path) || MountTable.IsUnder(p.Path, directory))) is { } overlap)
            throw new ResourceExistsException("PoolOverlaps",
                $"'{directory}' overlaps pool '{overlap.Name}' at {overlap.Path}; pools may not contain one another.", directory);
    }

    /// <summary>A registered pool by name, also one whose directory the path rules refuse (so that it can be unregistered).</summary>
    public PoolDefinition Registered(string name) =>
        configuration.Load().FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new PoolNotFoundException($"No pool named '{name}' is registered.", name);

    /// <summary>A pool whose volume is in use cannot be unregistered: the volume could not be dismounted by name afterwards.</summary>
    public static void RequireNoVolumeInUse(PoolDefinition pool, Host.AttachmentState attachments)
    {
        var busy = (pool.IsCeph ? Enumerable.Empty<string>() : VolumeFiles(pool.Path)).Select(f => (File: f, Use: attachments.Of(f))).FirstOrDefault(v => v.Use.IsAttached);
        if (busy.File is not null)
            throw new VolumeInUseException($"Pool '{pool.Name}' still has volume {busy.File} {busy.Use.Describe()}; dismount it before unregistering the pool.", pool.Name);
    }

    /// <summary>Forgets a pool; refused while one of its volumes is in use.</summary>
    public PoolDefinition Unregister(string name, Host.AttachmentState attachments)
    {
        RequireNoVolumeInUse(Registered(name), attachments);
        PoolDefinition? removed = null;
        configuration.Update(pools =>
        {
            removed = pools.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
                      ?? throw new PoolNotFoundException($"No pool named '{name}' is registered (configuration: {configuration.FilePath}).", name);
            return pools.Where(p => p != removed).ToList();
        });
        return removed!;
    }

    /// <summary>
    /// Pools whose names match any of the patterns. A pattern without wildcards that matches nothing is reported to
    /// <paramref name="onMissing"/> after the matches (thrown when it is null). A matching pool whose directory the
    /// rules refuse is not described but reported to <paramref name="onRefused"/>.
    /// </summary>
    public IReadOnlyList<StoragePool> Get(IEnumerable<string>? namePatterns = null, Action<PoolNotFoundException>? onMissing = null, Action<UnsafePoolPathException>? onRefused = null)
    {
        var all = Definitions();
        var patterns = (namePatterns ?? ["*"]).Select(p => new NamePattern(p)).ToList();
        var found = all.Where(d => patterns.Any(p => p.IsMatch(d.Name))).Select(Describe).ToList();
        var refused = Refused().Where(r => patterns.Any(p => p.IsMatch(r.Pool.Name))).ToList();
        foreach (var pool in refused)
            onRefused?.Invoke(pool.ToError());
        foreach (var exact in patterns.Where(p => !p.HasWildcards && !all.Any(d => p.IsMatch(d.Name)) && !refused.Any(r => p.IsMatch(r.Pool.Name))))
        {
            var error = new PoolNotFoundException($"No pool named '{exact.Text}' is registered.", exact.Text);
            if (onMissing is null)
                throw error;
            onMissing(error);
        }
        return found;
    }

    public PoolDefinition Find(string name) =>
        Definitions().FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw (Exception?)Refused().FirstOrDefault(r => r.Pool.Name.Equals(name, StringComparison.OrdinalIgnoreCase))?.ToError()
        ?? new PoolNotFoundException($"No pool named '{name}' is registered.", name);

    /// <summary>The pool a resolved path lies in, or null.</summary>
    public PoolDefinition? PoolOf(string resolvedPath) =>
        DirectoryDefinitions().Where(p => MountTable.IsUnder(resolvedPath, p.Path) && resolvedPath != p.Path).MaxBy(p => p.Path.Length);

    /// <summary>
    /// Resolves a volume path (symlinks and ".." included) and requires it to lie inside a registered pool.
    /// A path that does not exist yet is resolved through its parent directory.
    /// </summary>
    public (string Path, PoolDefinition Pool) Confine(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        var resolved = LibcPaths.RealPath(full);
        if (resolved is null)
        {
            var parent = LibcPaths.RealPath(System.IO.Path.GetDirectoryName(full)!)
                         ?? throw new InvalidStorageArgumentException("DirectoryNotFound", $"The directory of '{path}' does not exist.", path);
            if (new FileInfo(full).LinkTarget is not null)
                throw new PathOutsidePoolException($"'{path}' is a dangling symbolic link; volumes are not created through links.", path);
            resolved = System.IO.Path.Combine(parent, System.IO.Path.GetFileName(full));
        }
        var pool = PoolOf(resolved)
                   ?? throw (Exception?)RefusedPoolOf(resolved, path)
                   ?? new PathOutsidePoolException(
                       $"'{path}' resolves to '{resolved}', which is not inside any registered pool. Register its directory with Register-StoragePool, or choose a path in a pool.",
                       path);
        return (resolved, pool);
    }

    /// <summary>An error naming the refused pool that holds <paramref name="resolvedPath"/>, or null.</summary>
    private UnsafePoolPathException? RefusedPoolOf(string resolvedPath, string path) =>
        Refused().Where(r => MountTable.IsUnder(resolvedPath, r.Pool.Path) && resolvedPath != r.Pool.Path)
            .Select(r => new UnsafePoolPathException($"'{path}' lies in pool '{r.Pool.Name}' at {r.Pool.Path}, which is not used: {r.Reason}. Unregister it with Unregister-StoragePool.", path))
            .FirstOrDefault();

    public StoragePool Describe(PoolDefinition pool)
    {
        if (pool.IsCeph)
            return new CephPool(runner, pool).Describe();
        var space = Directory.Exists(pool.Path) ? Libc.Space(pool.Path) : default;
        var inspector = new VolumeInspector(new AttachmentState([], [], []));
        long provisioned = 0, allocated = 0;
        var count = 0;
        foreach (var file in VolumeFiles(pool.Path))
        {
            var volume = TryInspect(inspector, file, pool.Name);
            if (volume is null)
                continue;
            provisioned += volume.SizeBytes;
            allocated += volume.AllocatedBytes;
            count++;
        }
        return new StoragePool
        {
            Name = pool.Name,
            Path = pool.Path,
            HostFileSystem = MountTable.Containing(MountTable.Read(), pool.Path)?.FileSystemType ?? "",
            CapacityBytes = space.CapacityBytes,
            FreeBytes = space.AvailableBytes,
            ProvisionedBytes = provisioned,
            AllocatedBytes = allocated,
            OvercommitRatio = space.CapacityBytes > 0 ? Math.Round((double)provisioned / space.CapacityBytes, 3) : 0,
            MaxOvercommit = pool.MaxOvercommit,
            VolumeCount = count,
            PartialBytes = PartialFiles.InPool(pool.Path).Sum(PartialFiles.AllocatedBytes),
        };
    }

    /// <summary>The image files directly in a pool directory (snapshots and other module folders are hidden and skipped).</summary>
    public static IEnumerable<string> VolumeFiles(string directory) =>
        Directory.Exists(directory)
            ? Directory.EnumerateFiles(directory)
                .Where(f => !System.IO.Path.GetFileName(f).StartsWith('.'))
                .Where(f => VolumeInspector.Extensions.Contains(System.IO.Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal)
            : [];

    /// <summary>
    /// One file of a listing: the volume, or, for a file the module refuses or cannot parse, a broken entry that says
    /// why — one bad file never stops the listing; null for a file that vanished meanwhile.
    /// </summary>
    internal static SparseVolume? TryInspect(VolumeInspector inspector, string file, string? pool)
    {
        try
        {
            return inspector.Inspect(file, pool);
        }
        catch (UnsafeVolumeFileException e)
        {
            return Broken(file, pool, e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Headers are tenant-written: whatever a reader throws on one file is that file's problem, not the listing's.
            return File.Exists(file) || new FileInfo(file).LinkTarget is not null
                ? Broken(file, pool, $"'{file}' cannot be read as a volume: {e.Message}")
                : null;
        }
    }

    private static SparseVolume Broken(string file, string? pool, string reason)
    {
        long allocated;
        try
        {
            allocated = Libc.StatNoFollow(file).AllocatedBytes;
        }
        catch (IOException)
        {
            allocated = 0;
        }
        return VolumeInspector.Broken(file, pool, reason, allocated);
    }
}
