using SparseStorage.Core;
using SparseStorage.Core.Host;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;

namespace SparseStorage.Bench;

/// <summary>
/// A throw-away working directory on the real disk with its own pools.json and run-time directory, and the
/// StorageContext built over them the way the cmdlets build theirs (PoolService, ProcessRunner, RuntimePaths).
/// </summary>
internal sealed class BenchEnvironment : IDisposable
{
    private readonly bool keep;

    private BenchEnvironment(string root, bool keep)
    {
        Root = root;
        this.keep = keep;
        var configuration = new PoolConfiguration(Path.Combine(root, "config", "pools.json"));
        Context = new StorageContext(new PoolService(configuration), new ProcessRunner(),
            new RuntimePaths(Path.Combine(root, "run")), Environment.IsPrivilegedProcess);
    }

    public string Root { get; }
    public StorageContext Context { get; }
    public string FileSystemType { get; private set; } = "";

    public static BenchEnvironment Create(BenchOptions options)
    {
        var root = Path.Combine(options.BaseDirectory, $"sparsestorage-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        return new BenchEnvironment(root, options.Keep) { FileSystemType = FileSystemOf(root) };
    }

    /// <summary>Makes an empty directory and registers it as a pool; returns its resolved path.</summary>
    public string NewPool(string name)
    {
        var directory = Directory.CreateDirectory(Path.Combine(Root, name)).FullName;
        return Context.Pools.Register(name, directory).Path;
    }

    /// <summary>Registers an existing directory anywhere (another filesystem, say) as a pool; returns its resolved path.</summary>
    public string RegisterPool(string name, string directory) => Context.Pools.Register(name, directory).Path;

    /// <summary>A scratch directory outside every pool, for templates and comparison files.</summary>
    public string Scratch(string name) => Directory.CreateDirectory(Path.Combine(Root, name)).FullName;

    public void Dispose()
    {
        if (keep)
            Console.WriteLine($"--keep: left {Root} in place (pools.json: {Context.Pools.ConfigurationPath})");
        else if (Directory.Exists(Root))
            Directory.Delete(Root, recursive: true);
    }

    private static string FileSystemOf(string directory) =>
        Shell.Run("findmnt", "-n", "-o", "FSTYPE", "-T", directory).Trim();
}
