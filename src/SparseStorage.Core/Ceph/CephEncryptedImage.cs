using SparseStorage.Core.Encryption;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// What the Ceph encryption services share: finding an image's pool, its LUKS header (read over librados with the
/// listing), and which key opens it. The key is tried with cryptsetup on the image's raw FUSE export, the same way a
/// file volume's key is tried on its file, so a Ceph volume's container is the module's LUKS1 in every respect.
/// </summary>
internal sealed class CephEncryptedImage(StorageContext context)
{
    public (PoolDefinition Pool, CephPoolSettings Settings, string Image) Resolve(string volumePath)
    {
        foreach (var definition in context.Pools.Definitions().Where(d => d.IsCeph))
            if (definition.Ceph!.ImageOf(volumePath) is { } image)
                return (definition, definition.Ceph, image);
        throw new PathOutsidePoolException($"'{volumePath}' names no image of a registered Ceph pool; register its pool with Register-StoragePool -CephPool.", volumePath);
    }

    public SparseVolume Volume(string volumePath) => new VolumeCatalog(context).Get(volumePath);

    /// <summary>The LUKS header of an encrypted volume; a plain volume is refused.</summary>
    public ContainerHeader RequireEncrypted(SparseVolume volume)
    {
        var (pool, _, image) = Resolve(volume.Path);
        return new CephPool(context.Runner, pool).LuksHeaderOf(image) is { } luks
            ? ContainerHeader.OfRawLuks(luks)
            : throw new InvalidStorageArgumentException("VolumeNotEncrypted", $"Volume '{volume.Name}' is not encrypted; protect it with Protect-Volume first.", volume);
    }

    /// <summary>Refuses no keys and keys qemu cannot take (the plaintext opens in userspace).</summary>
    public static void RequireUsableKeys(SparseVolume volume, IReadOnlyList<VolumeKey> keys)
    {
        if (keys.Count == 0)
            throw new InvalidStorageArgumentException("KeyRequired", $"{volume.Path} is encrypted; give a passphrase or a key file.", volume);
        foreach (var key in keys)
            key.RequireQemuCompatible();
    }

    /// <summary>Refuses when any host holds the image's mount lock: it is mounted or unlocked read-write there.</summary>
    public static void RequireNoWriter(StorageContext context, CephPoolSettings settings, string image, SparseVolume volume, string action)
    {
        if (RbdMountLock.Locks(context.Runner, settings, image).FirstOrDefault() is { } held)
            throw new VolumeInUseException($"Volume '{volume.Name}' is mounted or unlocked read-write by {held.Describe()}; lock or dismount it there before {action}.", volume);
    }

    /// <summary>The first key that opens the image, tried with cryptsetup on a read-only raw export that lives only for the test.</summary>
    public VolumeKey KeyThatOpens(CephPoolSettings settings, string image, ContainerHeader header, IReadOnlyList<VolumeKey> keys, CancellationToken cancellationToken)
    {
        var export = new RbdExport(context, settings, image, readOnly: true);
        var record = export.Start(cancellationToken);
        try
        {
            return KeyProbe.KeyThatOpens(context.Runner, export.ExportPath, header, keys, cancellationToken, settings.ImagePath(image));
        }
        finally
        {
            context.FuseExporter().Stop(record, CancellationToken.None);
        }
    }
}
