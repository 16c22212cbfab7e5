using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Tests.Support;

/// <summary>
/// A second pool on a small ext4 filesystem (a loop device inside a test pool's scratch directory), so that a test
/// can fill it. Dispose takes down the mounts and loop devices of its volumes, then its own; call it before the
/// test pool's own Dispose.
/// </summary>
public sealed class SmallExt4Pool : IDisposable
{
    public const string Name = "small";
    private readonly ProcessRunner runner = new();
    private readonly string device;

    public SmallExt4Pool(TestPool owner, long sizeBytes, double? maxOvercommit = null)
    {
        var image = owner.Combine("small-pool.img");
        using (var file = new FileStream(image, FileMode.CreateNew)) file.SetLength(sizeBytes);
        runner.RunChecked(new ToolCommand("mkfs.ext4", "-q", "-m", "0", image));
        device = runner.RunChecked(new ToolCommand("losetup", "--find", "--show", image)).StandardOutput.Trim();
        Path = owner.Combine("small");
        Directory.CreateDirectory(Path);
        runner.RunChecked(new ToolCommand("mount", device, Path));
        owner.Pools.Register(Name, Path, maxOvercommit);
    }

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
