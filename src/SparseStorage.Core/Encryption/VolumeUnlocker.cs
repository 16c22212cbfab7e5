using SparseStorage.Core.Devices;
using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>How to open an encrypted volume: read-only, with discards passed down (off by default: holes reveal free sectors).</summary>
public sealed record UnlockOptions(bool ReadOnly = false, bool AllowDiscards = false, bool LockWithDismount = false);

/// <summary>
/// Opens and closes encrypted volumes. qcow2+LUKS and, without device-mapper, LUKS1 open in userspace:
/// qemu-storage-daemon decrypts and exports the plaintext through FUSE. Where device-mapper exists, raw LUKS opens
/// with cryptsetup at /dev/mapper. LUKS2 needs device-mapper. Each given key is tried in turn.
/// </summary>
public sealed class VolumeUnlocker(StorageContext context)
{
    private readonly FuseExporter exporter = context.FuseExporter();
    private readonly Mounter mounter = new(context.Runner);
    private readonly LoopDeviceManager loops = new(context.Runner);

    public static UnlockMethod MethodFor(EncryptionContainer container) =>
        container == EncryptionContainer.Qcow2Luks || (container == EncryptionContainer.Luks1 && !DmCryptMapping.IsAvailable)
            ? UnlockMethod.Userspace : UnlockMethod.DmCrypt;

    /// <summary>Whether opening the volume (to mount it) needs a key: it is encrypted and its plaintext is not open yet.</summary>
    public static bool NeedsKey(SparseVolume volume) => volume.Encryption != "None" && !volume.IsUnlocked;

    /// <summary>The header of an encrypted volume; a plain volume is refused.</summary>
    public static ContainerHeader RequireEncrypted(SparseVolume volume) =>
        ContainerHeader.Read(volume.Path)
        ?? throw new InvalidStorageArgumentException("VolumeNotEncrypted", $"Volume '{volume.Name}' is not encrypted; protect it with Protect-Volume first.", volume);

    public IReadOnlyList<string> Plan(SparseVolume volume, UnlockOptions options)
    {
        var header = RequireEncrypted(volume);
        return MethodFor(header.Container) == UnlockMethod.DmCrypt
            ? [$"cryptsetup open --type luks --key-file - {(options.ReadOnly ? "--readonly " : "")}{(options.AllowDiscards ? "--allow-discards " : "")}{volume.Path} {DmCryptMapping.NameFor(volume.Path)}"]
            : [exporter.StartCommand(volume.Path, ExportOptions(header, options, null)).ToString()];
    }

    /// <summary>Unlocks the volume and returns it; an already unlocked volume is returned unchanged.</summary>
    public SparseVolume Unlock(SparseVolume volume, IReadOnlyList<VolumeKey> keys, UnlockOptions options, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Unlocking a volume");
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(volume.Path);
        var header = RequireEncrypted(current);
        if (current.IsBroken)
            throw new StorageOperationException("VolumeBroken", $"The qemu-storage-daemon of '{current.Name}' is gone; run Lock-Volume -Force to clean up first.", current);
        if (current.IsUnlocked)
            return current;
        Open(current.Path, header, keys, options, cancellationToken);
        return new VolumeCatalog(context).Get(current.Path);
    }

    /// <summary>Opens an image's plaintext and returns where it can be read: a FUSE export file or a /dev/mapper device.</summary>
    internal string Open(string imagePath, ContainerHeader header, IReadOnlyList<VolumeKey> keys, UnlockOptions options, CancellationToken cancellationToken)
    {
        if (keys.Count == 0)
            throw new InvalidStorageArgumentException("KeyRequired", $"{imagePath} is encrypted; give a passphrase or a key file.", imagePath);
        if (header.Container == EncryptionContainer.Luks2 && !DmCryptMapping.IsAvailable)
            throw new HostNotCapableException("DeviceMapperRequired", $"{imagePath} is a LUKS2 container, which only dm-crypt opens, and this host has no device-mapper ({DmCryptMapping.ControlDevice} is missing). Unprotect it on a host with device-mapper, or protect volumes here as LUKS1.");
        foreach (var key in keys)
        {
            try
            {
                return MethodFor(header.Container) == UnlockMethod.DmCrypt ? OpenMapping(imagePath, key, options, cancellationToken) : OpenExport(imagePath, header, key, options, cancellationToken);
            }
            catch (WrongKeyException)
            {
                // Try the next key.
            }
        }
        throw KeyProbe.NoneOpens(keys, imagePath);
    }

    /// <summary>Closes whatever <see cref="Open"/> opened for the image.</summary>
    internal void Close(string imagePath, CancellationToken cancellationToken)
    {
        var attachment = context.ReadAttachments().Of(imagePath);
        if (attachment.MappedDevice is not null)
            context.Runner.RunChecked(CryptSetup.Close(DmCryptMapping.NameFor(imagePath)), cancellationToken);
        if (attachment.FuseExport is not null)
            exporter.Stop(attachment.FuseExport, cancellationToken);
    }

    /// <summary>
    /// Closes the plaintext: unmounts (only with <paramref name="dismount"/> or <paramref name="force"/>), detaches the
    /// loop device, stops the daemon or closes the mapping. With <paramref name="force"/> a broken volume (its daemon
    /// killed while mounted) is cleaned up with lazy unmounts.
    /// </summary>
    public SparseVolume Lock(SparseVolume volume, bool dismount, bool force, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Locking a volume");
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(volume.Path);
        RequireEncrypted(current);
        var attachment = context.ReadAttachments().Of(current.Path);
        if (attachment.IsMounted && !dismount && !force)
            throw new VolumeInUseException($"Volume '{current.Name}' is mounted at {string.Join(", ", attachment.MountPoints)}; use Lock-Volume -Dismount to unmount it first.", current);
        foreach (var mountPoint in attachment.MountPoints)
            Unmount(mountPoint, force || current.IsBroken, cancellationToken);
        if (attachment.LoopDevice is not null && attachment.MappedDevice is null)
            loops.Detach(attachment.LoopDevice, cancellationToken);
        Close(current.Path, cancellationToken);
        return new VolumeCatalog(context).Get(current.Path);
    }

    public IReadOnlyList<string> PlanLock(SparseVolume volume)
    {
        var attachment = context.ReadAttachments().Of(volume.Path);
        var steps = VolumeMounter.UnmountAndDetachSteps(attachment);
        if (attachment.MappedDevice is not null)
            steps.Add(CryptSetup.Close(DmCryptMapping.NameFor(volume.Path)).ToString());
        if (attachment.FuseExport is not null)
            steps.Add($"stop qemu-storage-daemon (pid {attachment.FuseExport.ProcessId})");
        return steps;
    }

    private void Unmount(string mountPoint, bool lazyIfNeeded, CancellationToken cancellationToken)
    {
        var result = context.Runner.Run(Mounter.UnmountCommand(mountPoint), cancellationToken);
        if (result.ExitCode != 0 && lazyIfNeeded)
            context.Runner.RunChecked(new ToolCommand("umount", "--lazy", mountPoint), cancellationToken);
        else
            result.EnsureSuccess();
    }

    private string OpenExport(string imagePath, ContainerHeader header, VolumeKey key, UnlockOptions options, CancellationToken cancellationToken)
    {
        using var secret = new SecretFile(key);
        return exporter.Start(imagePath, ExportOptions(header, options, secret), cancellationToken).ExportPath;
    }

    private string OpenMapping(string imagePath, VolumeKey key, UnlockOptions options, CancellationToken cancellationToken)
    {
        var name = DmCryptMapping.NameFor(imagePath);
        var result = context.Runner.Run(CryptSetup.Open(imagePath, name, key, options.ReadOnly, options.AllowDiscards), cancellationToken);
        if (result.ExitCode == CryptSetup.WrongKeyExitCode)
            throw new WrongKeyException($"The key does not open {imagePath}.", imagePath);
        result.EnsureSuccess();
        return DmCryptMapping.DevicePathFor(imagePath);
    }

    private static FuseExportOptions ExportOptions(ContainerHeader header, UnlockOptions options, SecretFile? secret) =>
        new(header.Container == EncryptionContainer.Qcow2Luks ? ExportLayer.Qcow2 : ExportLayer.Luks, options.ReadOnly, options.AllowDiscards, secret, options.LockWithDismount);
}
