using SparseStorage.Core.Devices;
using SparseStorage.Core.Host;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Mounts a volume (raw: loop device; qcow2: qemu-storage-daemon FUSE export, then a loop device) and takes it
/// down again. Each step is undone in reverse order if a later one fails, so a failed mount leaves no loop
/// device, daemon or created mount point behind.
/// </summary>
public sealed class VolumeMounter(StorageContext context)
{
    private readonly LoopDeviceManager loops = new(context.Runner);
    private readonly Mounter mounter = new(context.Runner);
    private readonly Qcow2FuseExporter exporter = new(context.Runner, context.Runtime);

    /// <summary>The steps a mount would run, for -WhatIf.</summary>
    public IReadOnlyList<string> Plan(SparseVolume volume, string mountPoint, bool readOnly)
    {
        var steps = new List<string>();
        var file = volume.Path;
        if (volume.Format == VolumeFormat.Qcow2)
        {
            steps.Add(exporter.StartCommand(volume.Path, readOnly).ToString());
            file = FuseExportRecord.ExportPathFor(context.Runtime.FuseExports, volume.Path);
        }
        steps.Add(LoopDeviceManager.AttachCommand(file, readOnly).ToString());
        steps.Add(Mounter.MountCommand("<loop device>", System.IO.Path.GetFullPath(mountPoint), volume.FileSystem, readOnly).ToString());
        return steps;
    }

    public SparseVolume Mount(SparseVolume volume, string mountPoint, bool readOnly, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Mounting a volume");
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(volume.Path);
        RequireMountable(current);
        if (!readOnly)
            new BackingChains(context).RequireNoDependants(current, "mounted read-write (mount it with -ReadOnly)");
        var target = MountPointRules.Prepare(mountPoint);
        var undo = new Stack<Action>();
        if (target.Created)
            undo.Push(() => Directory.Delete(target.Path));
        try
        {
            var file = current.Path;
            if (current.Format == VolumeFormat.Qcow2)
            {
                var export = exporter.Start(current.Path, readOnly, cancellationToken);
                undo.Push(() => exporter.Stop(export, CancellationToken.None));
                file = export.ExportPath;
            }
            var device = loops.Attach(file, readOnly, cancellationToken);
            undo.Push(() => loops.Detach(device, CancellationToken.None));
            mounter.Mount(device, target.Path, current.FileSystem, readOnly, cancellationToken);
        }
        catch
        {
            Undo(undo);
            throw;
        }
        return new VolumeCatalog(context).Get(current.Path);
    }

    /// <summary>Unmounts every mount of the volume, detaches its loop device and stops its FUSE daemon. A detached volume is left as it is.</summary>
    public SparseVolume Dismount(SparseVolume volume, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Dismounting a volume");
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var attachment = context.ReadAttachments().Of(volume.Path);
        foreach (var mountPoint in attachment.MountPoints)
            mounter.Unmount(mountPoint, cancellationToken);
        if (attachment.LoopDevice is not null)
            loops.Detach(attachment.LoopDevice, cancellationToken);
        if (attachment.FuseExport is not null)
            exporter.Stop(attachment.FuseExport, cancellationToken);
        return new VolumeCatalog(context).Get(volume.Path);
    }

    /// <summary>The steps a dismount would run, for -WhatIf.</summary>
    public IReadOnlyList<string> PlanDismount(SparseVolume volume)
    {
        var attachment = context.ReadAttachments().Of(volume.Path);
        var steps = attachment.MountPoints.Select(m => Mounter.UnmountCommand(m).ToString()).ToList();
        if (attachment.LoopDevice is not null)
            steps.Add(LoopDeviceManager.DetachCommand(attachment.LoopDevice).ToString());
        if (attachment.FuseExport is not null)
            steps.Add($"stop qemu-storage-daemon (pid {attachment.FuseExport.ProcessId})");
        return steps;
    }

    private static void RequireMountable(SparseVolume volume)
    {
        if (volume.IsAttached)
            throw new VolumeInUseException($"Volume '{volume.Name}' is already {(volume.IsMounted ? $"mounted at {volume.MountPoint}" : $"attached ({volume.LoopDevice ?? "FUSE export"})")}; dismount it first.", volume);
        if (volume.Encryption != "None")
            throw new StorageOperationException("VolumeEncrypted", $"Volume '{volume.Name}' is encrypted ({volume.Encryption}); unlock it before mounting.", volume);
        if (volume.FileSystem is FileSystemType.None or FileSystemType.Swap)
            throw new StorageOperationException("NoMountableFileSystem",
                $"Volume '{volume.Name}' has {(volume.FileSystem == FileSystemType.Swap ? "swap space" : "no filesystem")}; nothing to mount. Create one with New-SparseVolume -FileSystem.", volume);
    }

    private static void Undo(Stack<Action> undo)
    {
        while (undo.TryPop(out var step))
        {
            try
            {
                step();
            }
            catch (Exception e) when (e is SparseStorageException or IOException)
            {
                // Keep undoing; the original failure is the one reported.
            }
        }
    }
}
