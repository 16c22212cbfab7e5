using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// Adds and removes LUKS key slots: cryptsetup for raw LUKS, qemu-img amend for qcow2+LUKS (which needs the volume
/// locked, since a running qemu-storage-daemon holds the image). The last key is removed only when forced.
/// </summary>
public sealed class VolumeKeyManager(StorageContext context)
{
    public SparseVolume Add(SparseVolume volume, IReadOnlyList<VolumeKey> existing, VolumeKey newKey, int iterationTimeMilliseconds, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var (current, header) = Read(volume);
        if (VolumeUnlocker.MethodFor(header.Container) == UnlockMethod.Userspace)
            newKey.RequireQemuCompatible();
        var opening = KeyProbe.KeyThatOpens(context.Runner, current.Path, header, existing, cancellationToken);
        using var secret = new SecretFile(newKey);
        if (header.Container == EncryptionContainer.Qcow2Luks)
        {
            using var openingSecret = new SecretFile(opening);
            QemuCrypto.RunKeyDerivation(context.Runner, QemuCrypto.AddKey(current.Path, openingSecret, secret, iterationTimeMilliseconds), cancellationToken);
        }
        else
            context.Runner.RunChecked(CryptSetup.AddKey(current.Path, opening, secret, iterationTimeMilliseconds), cancellationToken);
        return new VolumeCatalog(context).Get(current.Path);
    }

    public SparseVolume Remove(SparseVolume volume, VolumeKey key, bool force, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var (current, header) = Read(volume);
        if (header.Luks.ActiveKeySlots <= 1 && !force)
            throw new StorageOperationException("LastKey", $"{key.Description} may be the last key of '{current.Name}'; removing it makes the data unreadable for ever. Add another key first (Add-VolumeKey), or use -Force.", current);
        KeyProbe.KeyThatOpens(context.Runner, current.Path, header, [key], cancellationToken);
        if (header.Container == EncryptionContainer.Qcow2Luks)
        {
            using var secret = new SecretFile(key);
            context.Runner.RunChecked(QemuCrypto.RemoveKey(current.Path, secret), cancellationToken);
        }
        else
            context.Runner.RunChecked(CryptSetup.RemoveKey(current.Path, key), cancellationToken);
        return new VolumeCatalog(context).Get(current.Path);
    }

    private (SparseVolume Volume, ContainerHeader Header) Read(SparseVolume volume)
    {
        var current = new VolumeCatalog(context).Get(volume.Path);
        var header = VolumeUnlocker.RequireEncrypted(current);
        if (header.Container == EncryptionContainer.Qcow2Luks && current.IsAttached)
            throw new VolumeInUseException($"Volume '{current.Name}' is unlocked; qemu-img cannot change the key slots of a qcow2 image in use. Lock it first (Lock-Volume).", current);
        return (current, header);
    }
}
