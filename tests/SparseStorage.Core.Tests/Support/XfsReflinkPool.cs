using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Tests.Support;

/// <summary>
/// A second pool on an xfs filesystem with reflink, made on a loop device inside a test pool's scratch directory.
/// Dispose unmounts and detaches it; call it before the test pool's own Dispose.
/// </summary>
public sealed class XfsReflinkPool : IDisposable
{
    public const string Name = "xfs";
    private readonly ProcessRunner runner = new();
    private readonly string device;

    public XfsReflinkPool(TestPool owner)
    {
        var image = owner.Combine("xfs-pool.img");
        using (var file = new FileStream(image, FileMode.CreateNew)) file.SetLength(4L << 30);
        runner.RunChecked(new ToolCommand("mkfs.xfs", "-q", "-m", "reflink=1", image));
        device = runner.RunChecked(new ToolCommand("losetup", "--find", "--show", image)).StandardOutput.Trim();
        Path = owner.Combine("xfs");
        Directory.CreateDirectory(Path);
        runner.RunChecked(new ToolCommand("mount", device, Path));
        owner.Pools.Register(Name, Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        runner.Run(new ToolCommand("umount", Path));
        runner.Run(new ToolCommand("losetup", "--detach", device));
    }
}
