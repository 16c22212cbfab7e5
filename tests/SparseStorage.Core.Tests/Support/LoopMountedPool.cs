using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Tests.Support;

/// <summary>
/// A second pool on a filesystem of its own (a loop device inside a test pool's scratch directory): xfs with reflink,
/// or a small ext4 that a test can fill. Dispose takes down the mounts and loop devices of its volumes, then its own;
/// call it before the test pool's own Dispose.
/// </summary>
public sealed class LoopMountedPool : IDisposable
{
    private readonly ProcessRunner runner = new();
    private readonly string device;

    private LoopMountedPool(TestPool owner, string name, long sizeBytes, string[] mkfs, double? maxOvercommit)
    {
        Name = name;
        var image = owner.Combine($"{name}-pool.img");
        using (var file = new FileStream(image, FileMode.CreateNew)) file.SetLength(sizeBytes);
        runner.RunChecked(new ToolCommand(mkfs[0], [.. mkfs[1..], image]));
        device = runner.RunChecked(new ToolCommand("losetup", "--find", "--show", image)).StandardOutput.Trim();
        Path = owner.Combine(name);
        Directory.CreateDirectory(Path);
        runner.RunChecked(new ToolCommand("mount", device, Path));
        owner.Pools.Register(Name, Path, maxOvercommit);
    }

    public static LoopMountedPool XfsReflink(TestPool owner) => new(owner, "xfs", 4L << 30, ["mkfs.xfs", "-q", "-m", "reflink=1"], null);

    public static LoopMountedPool SmallExt4(TestPool owner, long sizeBytes, double? maxOvercommit = null) =>
        new(owner, "small", sizeBytes, ["mkfs.ext4", "-q", "-m", "0"], maxOvercommit);

    public string Name { get; }
    public string Path { get; }

    public void Dispose()
    {
        foreach (var loop in LoopDevices.Read().Where(l => l.BackingFile.StartsWith(Path + "/", StringComparison.Ordinal)))
        {
            foreach (var mount in MountTable.Read().Where(m => m.DeviceNumber == loop.DeviceNumber || m.Source == loop.Device))
                runner.Run(new ToolCommand("umount", mount.MountPoint));
            runner.Run(new ToolCommand("losetup", "--detach", loop.Device));
        }
        runner.Run(new ToolCommand("umount", Path));
        runner.Run(new ToolCommand("losetup", "--detach", device));
    }
}
