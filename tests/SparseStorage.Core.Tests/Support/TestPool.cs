using SparseStorage.Core.Host;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Support;

/// <summary>
/// A registered pool in a scratch directory with its own configuration and runtime directory. Dispose tears down,
/// with plain tools and independently of the code under test, every mount, loop device and FUSE daemon that
/// refers to the directory, then deletes it.
/// </summary>
public sealed class TestPool : IDisposable
{
    public const string Name = "test";
    private readonly TempDirectory root = new("sparse-pool");
    private readonly LoopSnapshot loopsAtStart = new();

    public TestPool()
    {
        Directory.CreateDirectory(PoolPath);
        Pools.Register(Name, PoolPath);
    }

    public string Root => root.Path;
    public string PoolPath => root.Combine("pool");
    public string ConfigPath => root.Combine("pools.json");
    public RuntimePaths Runtime => new(root.Combine("run"));
    public PoolService Pools => new(new PoolConfiguration(ConfigPath));

    public StorageContext Context(IProcessRunner? runner = null, bool isRoot = true) =>
        new(Pools, runner ?? new ProcessRunner(), Runtime, isRoot) { LockWait = TimeSpan.FromSeconds(2) };

    public string Combine(params string[] parts) => root.Combine(parts);

    /// <summary>Creates a volume in this pool through the real creator.</summary>
    public SparseVolume CreateVolume(StorageContext context, string name, ByteSize size, VolumeFormat format = VolumeFormat.Raw, FileSystemType fileSystem = FileSystemType.Ext4)
    {
        var creator = new VolumeCreator(context);
        return creator.Create(creator.Plan(new NewVolumeRequest { Name = name, Size = size, Format = format, FileSystem = fileSystem }));
    }

    /// <summary>
    /// Asserts that no loop device, mount or process still refers to this pool's directory, and that no loop attached
    /// since the pool was made has a backing file that reads "/" (one left on a dead FUSE export, which no path names).
    /// </summary>
    public void AssertNothingLeftBehind()
    {
        LoopDevices.Read().Should().NotContain(l => l.BackingFile.StartsWith(Root, StringComparison.Ordinal));
        loopsAtStart.DeadLoopsSince().Should().BeEmpty("no loop device may outlive its dead FUSE export");
        MountTable.Read().Should().NotContain(m => m.MountPoint.StartsWith(Root, StringComparison.Ordinal));
        LiveProcesses.CommandLinesMentioning(Root).Should().BeEmpty("no daemon may outlive the operation");
    }

    public void Dispose()
    {
        var runner = new ProcessRunner();
        // Loops first: once a FUSE export under Root is unmounted, its loop's backing file reads "/" and only the
        // export's record still names it.
        var loops = LoopDevices.Read().Where(l => l.BackingFile.StartsWith(Root, StringComparison.Ordinal))
            .Union(LoopSnapshot.RecordedIn(Runtime.FuseExports)).ToList();
        foreach (var loop in loops)
        {
            foreach (var mount in MountTable.Read().Where(m => m.DeviceNumber == loop.DeviceNumber || m.Source == loop.Device))
                runner.Run(new ToolCommand("umount", mount.MountPoint));
            runner.Run(new ToolCommand("losetup", "--detach", loop.Device));
        }
        foreach (var pidFile in Directory.Exists(Runtime.FuseExports) ? Directory.GetFiles(Runtime.FuseExports, "*.pid") : [])
            runner.Run(new ToolCommand("kill", File.ReadAllText(pidFile).Trim()));
        Thread.Sleep(200);
        foreach (var mount in MountTable.Read().Where(m => m.MountPoint.StartsWith(Root, StringComparison.Ordinal)).Reverse())
            runner.Run(new ToolCommand("umount", "-l", mount.MountPoint));
        root.Dispose();
    }
}
