using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Devices;

/// <summary>mount(8) and umount(8) with explicit filesystem types.</summary>
public sealed class Mounter(IProcessRunner runner)
{
    public static ToolCommand MountCommand(string device, string mountPoint, FileSystemType fileSystem, bool readOnly)
    {
        var arguments = new List<string>();
        if (fileSystem is not FileSystemType.Unknown)
            arguments.AddRange(["-t", fileSystem.ToString().ToLowerInvariant()]);
        if (readOnly)
            arguments.AddRange(["-o", "ro"]);
        arguments.AddRange([device, mountPoint]);
        return new ToolCommand("mount", arguments);
    }

    public static ToolCommand UnmountCommand(string mountPoint) => new("umount", mountPoint);

    public void Mount(string device, string mountPoint, FileSystemType fileSystem, bool readOnly, CancellationToken cancellationToken) =>
        runner.RunChecked(MountCommand(device, mountPoint, fileSystem, readOnly), cancellationToken);

    public void Unmount(string mountPoint, CancellationToken cancellationToken) =>
        runner.RunChecked(UnmountCommand(mountPoint), cancellationToken);
}
