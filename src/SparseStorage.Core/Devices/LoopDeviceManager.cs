using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Devices;

/// <summary>Attaches and detaches loop devices with losetup (util-linux handles the LOOP_CTL_GET_FREE race).</summary>
public sealed class LoopDeviceManager(IProcessRunner runner)
{
    public static ToolCommand AttachCommand(string file, bool readOnly) =>
        new("losetup", ["--find", "--show", .. readOnly ? new[] { "--read-only" } : [], file]);

    public static ToolCommand DetachCommand(string device) => new("losetup", "--detach", device);

    public string Attach(string file, bool readOnly, CancellationToken cancellationToken) =>
        Attach(file, file, readOnly, cancellationToken);

    /// <summary>
    /// Attaches a volume's raw bytes: its own image through a checked descriptor (losetup opens it through /proc/PID/fd),
    /// so a file swapped in at the volume's path after the check is never attached, while the loop device still names
    /// the volume's path; any other <paramref name="file"/> (a FUSE export file) is the module's own and attached as it is.
    /// </summary>
    public string AttachVolume(string file, string volumePath, bool readOnly, CancellationToken cancellationToken)
    {
        if (file != volumePath)
            return Attach(file, readOnly, cancellationToken);
        using var image = Volumes.VolumeFile.OpenRead(file);
        return Attach(image.DescriptorPath, image.Path, readOnly, cancellationToken);
    }

    private string Attach(string openPath, string file, bool readOnly, CancellationToken cancellationToken)
    {
        var device = runner.RunChecked(AttachCommand(openPath, readOnly), cancellationToken).StandardOutput.Trim();
        if (!device.StartsWith("/dev/loop", StringComparison.Ordinal))
            throw new StorageOperationException("LoopAttachFailed", $"losetup did not name a loop device for {file} (it printed '{device}').", file);
        return device;
    }

    /// <summary>
    /// Detaches and waits until the kernel has let go: while udev or blkid still holds the device open, LOOP_CLR_FD
    /// only marks it for auto-clear, and the volume would still look attached to the next command.
    /// </summary>
    public void Detach(string device, CancellationToken cancellationToken)
    {
        runner.RunChecked(DetachCommand(device), cancellationToken);
        var backingFile = $"/sys/block/{Path.GetFileName(device)}/loop/backing_file";
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (File.Exists(backingFile) && DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Thread.Sleep(20);
        }
        if (File.Exists(backingFile))
            throw new StorageOperationException("LoopDetachPending", $"{device} is still in use by another process and was only marked for detaching; it detaches when that process closes it.", device);
    }
}
