using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Host;
using SparseStorage.Core.Leftovers;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Mounts a volume (raw: loop device; qcow2: qemu-storage-daemon FUSE export, then a loop device; encrypted: its
/// unlocked plaintext, unlocking it first when keys are given) and takes it down again. Each step is undone in reverse
/// order if a later one fails, so a failed mount leaves no loop device, daemon or created mount point behind.
/// </summary>
public sealed class VolumeMounter(StorageContext context)
{
    private readonly LoopDeviceManager loops = new(context.Runner);
    private readonly Mounter mounter = new(context.Runner);
    private readonly FuseExporter exporter = context.FuseExporter();

    /// <summary>The steps a mount would run, for -WhatIf.</summary>
    public IReadOnlyList<string> Plan(SparseVolume volume, string mountPoint, bool readOnly, bool allowDiscards = false)
    {
        var steps = new List<string>();
        var file = volume.Path;
        if (volume.Encryption != "None")
        {
            if (VolumeUnlocker.NeedsKey(volume))
                steps.Add(new VolumeUnlocker(context).OpenStep(volume, new UnlockOptions(readOnly, allowDiscards)));
            file = VolumeUnlocker.MethodFor(VolumeUnlocker.RequireEncrypted(volume).Container) == UnlockMethod.DmCrypt
                ? DmCryptMapping.DevicePathFor(volume.Path) : FuseExportRecord.ExportPathFor(context.Runtime.FuseExports, volume.Path);
        }
        else if (volume.Format == VolumeFormat.Qcow2)
        {
            steps.Add(exporter.StartCommand(volume.Path, FuseExportOptions.Qcow2(readOnly)).ToString());
            file = FuseExportRecord.ExportPathFor(context.Runtime.FuseExports, volume.Path);
        }
        var device = file.StartsWith("/dev/mapper/", StringComparison.Ordinal) ? file : "<loop device>";
        if (device != file)
            steps.Add(LoopDeviceManager.AttachCommand(file, readOnly).ToString());
        // A locked volume's filesystem is unknown until it is unlocked; mount then detects it.
        var fileSystem = VolumeUnlocker.NeedsKey(volume) ? FileSystemType.Unknown : volume.FileSystem;
        steps.Add(Mounter.MountCommand(device, System.IO.Path.GetFullPath(mountPoint), fileSystem, readOnly).ToString());
        return steps;
    }

    public SparseVolume Mount(SparseVolume volume, string mountPoint, bool readOnly, CancellationToken cancellationToken = default) =>
        Mount(volume, mountPoint, readOnly, [], false, cancellationToken);

    /// <summary>Mounts; a locked encrypted volume is unlocked with <paramref name="keys"/> first and locked again by its dismount.</summary>
    public SparseVolume Mount(SparseVolume volume, string mountPoint, bool readOnly, IReadOnlyList<VolumeKey> keys, bool allowDiscards, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Mounting a volume");
        new LeftoverSweeper(context).Sweep(); // a daemon left by a killed mount of this volume would pass for its export
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(volume.Path);
        if (current.Encryption != "None")
            return MountEncrypted(current, mountPoint, readOnly, keys, allowDiscards, cancellationToken);
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
                var export = exporter.Start(current.Path, FuseExportOptions.Qcow2(readOnly), cancellationToken);
                undo.Push(() => exporter.Stop(export, CancellationToken.None));
                file = export.ExportPath;
            }
            var device = loops.AttachVolume(file, current.Path, readOnly, cancellationToken);
            undo.Push(() => loops.Detach(device, CancellationToken.None));
            mounter.Mount(device, target.Path, current.FileSystem, readOnly, cancellationToken);
            exporter.Release(current.Path);
        }
        catch
        {
            Undo(undo);
            throw;
        }
        return new VolumeCatalog(context).Get(current.Path);
    }

    private SparseVolume MountEncrypted(SparseVolume current, string mountPoint, bool readOnly, IReadOnlyList<VolumeKey> keys, bool allowDiscards, CancellationToken cancellationToken)
    {
        if (current.IsBroken)
            throw new StorageOperationException("VolumeBroken", $"The qemu-storage-daemon of '{current.Name}' is gone; run Lock-Volume -Force to clean up first.", current);
        var attachment = context.ReadAttachments().Of(current.Path);
        // On the dm-crypt path cryptsetup's own loop device carries the mapping; any other loop device means in use.
        if (attachment.IsMounted || attachment.LoopDevice is not null && attachment.MappedDevice is null)
            throw new VolumeInUseException($"Volume '{current.Name}' is already {attachment.Describe()}; dismount it first.", current);
        var target = MountPointRules.Prepare(mountPoint);
        var undo = new Stack<Action>();
        if (target.Created)
            undo.Push(() => Directory.Delete(target.Path));
        try
        {
            var unlocker = new VolumeUnlocker(context);
            var plaintext = attachment.PlaintextPath;
            if (plaintext is null)
            {
                plaintext = unlocker.Open(current.Path, VolumeUnlocker.RequireEncrypted(current), keys, new UnlockOptions(readOnly, allowDiscards, LockWithDismount: true), cancellationToken);
                undo.Push(() => unlocker.Close(current.Path, CancellationToken.None));
            }
            var device = plaintext;
            if (!plaintext.StartsWith("/dev/", StringComparison.Ordinal))
            {
                device = loops.Attach(plaintext, readOnly, cancellationToken);
                var attached = device;
                undo.Push(() => loops.Detach(attached, CancellationToken.None));
            }
            var fileSystem = new VolumeCatalog(context).Get(current.Path).FileSystem;
            if (fileSystem is FileSystemType.None or FileSystemType.Swap)
                throw new StorageOperationException("NoMountableFileSystem", $"The unlocked volume '{current.Name}' has {(fileSystem == FileSystemType.Swap ? "swap space" : "no filesystem")}; nothing to mount.", current);
            mounter.Mount(device, target.Path, fileSystem, readOnly, cancellationToken);
            exporter.Release(current.Path);
        }
        catch
        {
            Undo(undo);
            throw;
        }
        return new VolumeCatalog(context).Get(current.Path);
    }

    /// <summary>
    /// Unmounts every mount of the volume, detaches its loop device and stops its FUSE daemon. A detached volume is
    /// left as it is. An encrypted volume that Unlock-Volume opened stays unlocked (Lock-Volume closes it); one that
    /// the mount unlocked is locked again.
    /// </summary>
    public SparseVolume Dismount(SparseVolume volume, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Dismounting a volume");
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var attachment = context.ReadAttachments().Of(volume.Path);
        foreach (var mountPoint in attachment.MountPoints)
            mounter.Unmount(mountPoint, cancellationToken);
        if (attachment.LoopDevice is not null && attachment.MappedDevice is null)
            loops.Detach(attachment.LoopDevice, cancellationToken);
        if (attachment.FuseExport is { Decrypting: false } or { LockWithDismount: true })
            exporter.Stop(attachment.FuseExport, cancellationToken);
        return new VolumeCatalog(context).Get(volume.Path);
    }

    /// <summary>The steps a dismount would run, for -WhatIf.</summary>
    public IReadOnlyList<string> PlanDismount(SparseVolume volume)
    {
        var attachment = context.ReadAttachments().Of(volume.Path);
        var steps = UnmountAndDetachSteps(attachment);
        if (attachment.FuseExport is { Decrypting: false } or { LockWithDismount: true })
            steps.Add($"stop qemu-storage-daemon (pid {attachment.FuseExport.ProcessId})");
        return steps;
    }

    /// <summary>Unmounting every mount and detaching the loop device on top of the volume (not cryptsetup's own), as command lines.</summary>
    internal static List<string> UnmountAndDetachSteps(VolumeAttachment attachment)
    {
        var steps = attachment.MountPoints.Select(m => Mounter.UnmountCommand(m).ToString()).ToList();
        if (attachment.LoopDevice is not null && attachment.MappedDevice is null)
            steps.Add(LoopDeviceManager.DetachCommand(attachment.LoopDevice).ToString());
        return steps;
    }

    private static void RequireMountable(SparseVolume volume)
    {
        if (volume.IsAttached)
            throw new VolumeInUseException($"Volume '{volume.Name}' is already {(volume.IsMounted ? $"mounted at {volume.MountPoint}" : $"attached ({volume.LoopDevice ?? "FUSE export"})")}; dismount it first.", volume);
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
