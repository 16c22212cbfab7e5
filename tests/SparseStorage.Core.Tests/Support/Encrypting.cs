using SparseStorage.Core.Encryption;

namespace SparseStorage.Core.Tests.Support;

/// <summary>The encryption services as the cmdlets use them, plan then apply, for tests that need the result rather than the plan.</summary>
public static class Encrypting
{
    /// <summary>PBKDF time short enough for tests.</summary>
    public const int FastIterations = 10;

    public static SparseVolume Protect(StorageContext context, SparseVolume volume, IReadOnlyList<VolumeKey> keys,
        IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var protector = new VolumeProtector(context);
        return protector.Apply(protector.Plan(new ProtectVolumeRequest(volume, keys, IterationTimeMilliseconds: FastIterations)), progress, cancellationToken);
    }

    public static SparseVolume Unprotect(StorageContext context, SparseVolume volume, IReadOnlyList<VolumeKey> keys,
        IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var unprotector = new VolumeUnprotector(context);
        return unprotector.Apply(unprotector.Plan(new UnprotectVolumeRequest(volume, keys)), progress, cancellationToken);
    }

    public static SparseVolume Unlock(StorageContext context, SparseVolume volume, IReadOnlyList<VolumeKey> keys, UnlockOptions? options = null)
    {
        var unlocker = new VolumeUnlocker(context);
        return unlocker.Apply(unlocker.Plan(new UnlockVolumeRequest(volume, keys, options ?? new UnlockOptions())));
    }

    public static SparseVolume Lock(StorageContext context, SparseVolume volume, bool dismount = false, bool lazyUnmount = false)
    {
        var unlocker = new VolumeUnlocker(context);
        return unlocker.Apply(unlocker.Plan(new LockVolumeRequest(volume, dismount, lazyUnmount)));
    }

    public static SparseVolume AddKey(StorageContext context, SparseVolume volume, IReadOnlyList<VolumeKey> keys, VolumeKey newKey)
    {
        var manager = new VolumeKeyManager(context);
        return manager.Apply(manager.Plan(new AddVolumeKeyRequest(volume, keys, [newKey], FastIterations)));
    }

    public static SparseVolume RemoveKey(StorageContext context, SparseVolume volume, VolumeKey key, bool allowLastKeyRemoval = false)
    {
        var manager = new VolumeKeyManager(context);
        return manager.Apply(manager.Plan(new RemoveVolumeKeyRequest(volume, [key], allowLastKeyRemoval)));
    }
}
