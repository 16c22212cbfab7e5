using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Devices;

/// <summary>Attaches and detaches loop devices with losetup (util-linux handles the LOOP_CTL_GET_FREE race).</summary>
public sealed class LoopDeviceManager(IProcessRunner runner)
{
    public static ToolCommand AttachCommand(string file, bool readOnly) =>
        new("losetup", ["--find", "--show", .. readOnly ? new[] { "--read-only" } : [], file]);

    public static ToolCommand DetachCommand(string device) => new("losetup", "--detach", device);

    public string Attach(string file, bool readOnly, CancellationToken cancellationToken)
    {
        var device = runner.RunChecked(AttachCommand(file, readOnly), cancellationToken).StandardOutput.Trim();
        if (!device.StartsWith("/dev/loop", StringComparison.Ordinal))
            throw new StorageOperationException("LoopAttachFailed", $"losetup did not name a loop device for {file} (it printed '{device}').", file);
        return device;
    }

    public void Detach(string device, CancellationToken cancellationToken) =>
        runner.RunChecked(DetachCommand(device), cancellationToken);
}
