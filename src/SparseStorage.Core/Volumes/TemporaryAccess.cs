using SparseStorage.Core.Devices;
using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Gives a filesystem tool what it needs — the volume's raw bytes (a file or block device) or a mount point — and
/// sets up only what is missing: a FUSE export for an unattached qcow2 image, a loop device, a temporary mount.
/// <see cref="Close"/> takes down what it set up, in reverse order, also after a failure. With
/// <paramref name="readOnly"/> everything it sets up is read-only (for checks). A volume that is no file (an RBD
/// image) is made one by its <paramref name="asFile"/>.
/// </summary>
internal sealed class TemporaryAccess(StorageContext context, SparseVolume volume, VolumeAttachment attachment, StepRunner steps, bool readOnly = false,
    IVolumeExport? asFile = null) : IDisposable
{
    private readonly Stack<Action> undo = new();
    private readonly FuseExporter exporter = context.FuseExporter();
    private string? rawView;
    private bool rawViewIsLoop;
    private string? mountPoint;

    /// <summary>
    /// A file or device holding the volume's raw bytes: the loop device when attached, else the image or its FUSE
    /// export; for a volume that is no file, a loop device on its export.
    /// </summary>
    public string RawView()
    {
        if (rawView is not null)
            return rawView;
        if (attachment.LoopDevice is not null)
            return rawView = attachment.LoopDevice;
        if (attachment.FuseExport is not null)
            return rawView = attachment.FuseExport.ExportPath;
        if (asFile is not null)
        {
            var file = asFile.Start(steps);
            undo.Push(() => asFile.Stop(steps));
            // A block device, not the exported file: resize2fs truncates a regular file it shrinks, which through the
            // export would cut the image itself, before the steps say so.
            rawViewIsLoop = true;
            return rawView = Attach(file);
        }
        if (volume.Format == VolumeFormat.Raw)
            return rawView = volume.Path;
        var export = steps.Measure(exporter.StartCommand(volume.Path, FuseExportOptions.Qcow2(readOnly)).ToString(),
            () => exporter.Start(volume.Path, FuseExportOptions.Qcow2(readOnly), steps.Cancellation),
            new FuseExportRecord(volume.Path, FuseExportRecord.ExportPathFor(context.Runtime.FuseExports, volume.Path), 0));
        undo.Push(() => steps.Undo($"stop qemu-storage-daemon (FUSE export {export.ExportPath})", () => exporter.Stop(export, CancellationToken.None)));
        return rawView = export.ExportPath;
    }

    /// <summary>Where the filesystem is mounted: the user's mount point, or a temporary one under the runtime directory.</summary>
    public string MountPoint()
    {
        if (attachment.MountPoints.Count > 0)
            return attachment.MountPoints[0];
        if (mountPoint is not null)
            return mountPoint;
        context.RequireRoot($"Mounting {volume.Name} temporarily");
        var view = RawView();
        var block = rawViewIsLoop || view.StartsWith("/dev/", StringComparison.Ordinal) ? view : Attach(view);
        var parent = Path.Combine(context.Runtime.Root, "mnt");
        var target = Path.Combine(steps.DryRun ? parent : context.Runtime.Ensure(parent), FuseExportRecord.KeyFor(volume.Path));
        steps.Do($"mkdir {target}", () => Directory.CreateDirectory(target));
        undo.Push(() => steps.Undo($"rmdir {target}", () => Directory.Delete(target)));
        steps.Tool(Mounter.MountCommand(block, target, volume.FileSystem, readOnly));
        undo.Push(() => steps.UndoTool(Mounter.UnmountCommand(target)));
        return mountPoint = target;
    }

    /// <summary>Takes down what this access set up; safe to call twice.</summary>
    public void Close()
    {
        Exception? first = null;
        while (undo.TryPop(out var step))
        {
            try
            {
                step();
            }
            catch (Exception e) when (e is SparseStorageException or IOException)
            {
                first ??= e;
            }
        }
        rawView = mountPoint = null;
        rawViewIsLoop = false;
        if (first is not null)
            throw first;
    }

    public void Dispose()
    {
        try
        {
            Close();
        }
        catch (Exception e) when (e is SparseStorageException or IOException)
        {
            // Reported by an explicit Close on the success path; after a failure the first error is the one that matters.
        }
    }

    private string Attach(string file)
    {
        var loop = steps.Measure(LoopDeviceManager.AttachCommand(file, readOnly).ToString(),
            () => new LoopDeviceManager(context.Runner).AttachVolume(file, volume.Path, readOnly, steps.Cancellation), "<loop device>");
        undo.Push(() => steps.Undo(LoopDeviceManager.DetachCommand(loop).ToString(), () => new LoopDeviceManager(context.Runner).Detach(loop, CancellationToken.None)));
        if (!steps.DryRun)
            exporter.RecordLoop(volume.Path, loop);
        return loop;
    }
}

/// <summary>A volume that is no file (an RBD image) made one for the filesystem tools, and taken down again.</summary>
internal interface IVolumeExport
{
    /// <summary>Starts the export (a dry run only records the step) and returns the file the volume appears as.</summary>
    string Start(StepRunner steps);

    /// <summary>Stops what <see cref="Start"/> started, as an undo step (it runs after a failure too).</summary>
    void Stop(StepRunner steps);
}
