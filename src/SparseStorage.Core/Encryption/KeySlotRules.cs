using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>The rules Add-VolumeKey and Remove-VolumeKey share for every kind of encrypted volume, checked when they plan.</summary>
public static class KeySlotRules
{
    /// <summary>Refuses an empty list of new keys, keys that cannot reach qemu as a secret file, and more keys than free slots.</summary>
    public static void RequireRoomFor(AddVolumeKeyRequest request, SparseVolume volume, LuksHeader luks)
    {
        if (request.NewKeys.Count == 0)
            throw new InvalidStorageArgumentException("KeyRequired", "Add-VolumeKey needs a new passphrase, a new key file, or both.", volume);
        // Every new key reaches cryptsetup or qemu as a secret file, which holds text only.
        foreach (var key in request.NewKeys)
            key.RequireQemuCompatible();
        var capacity = luks.Version == 1 ? 8 : 32;
        if (luks.ActiveKeySlots + request.NewKeys.Count > capacity)
            throw new StorageOperationException("NoFreeKeySlot",
                $"Volume '{volume.Name}' has {luks.ActiveKeySlots} of its {capacity} key slots in use; remove a key (Remove-VolumeKey) before adding {AddVolumeKeyPlan.Keys(request.NewKeys.Count)}.", volume);
    }

    /// <summary>
    /// Whether removing the request's keys may leave the volume without a key; refuses that unless the request allows
    /// it, and refuses an empty list of keys.
    /// </summary>
    public static bool RemovesLastKey(RemoveVolumeKeyRequest request, SparseVolume volume, LuksHeader luks)
    {
        if (request.Keys.Count == 0)
            throw new InvalidStorageArgumentException("KeyRequired", "Remove-VolumeKey needs the passphrase or key file to remove.", volume);
        // Each key removes at least the slot it opens (qemu-img amend: every slot it opens).
        var removesLastKey = luks.ActiveKeySlots <= request.Keys.Count;
        if (removesLastKey && !request.AllowLastKeyRemoval)
            throw new StorageOperationException("LastKey",
                $"{Capitalized(VolumeKey.Describe(request.Keys))} may be the last key of '{volume.Name}'; removing it makes the data unreadable for ever. Add another key first (Add-VolumeKey), or use -AllowLastKeyRemoval to destroy access to the data on purpose.", volume);
        return removesLastKey;
    }

    /// <summary>The warning of a plan that removes what may be the last key.</summary>
    public static IReadOnlyList<string> LastKeyWarnings(bool removesLastKey, RemoveVolumeKeyRequest request, SparseVolume volume) =>
        removesLastKey ? [$"Removing {VolumeKey.Describe(request.Keys)} leaves '{volume.Name}' without a key: its data becomes unreadable for ever."] : [];

    private static string Capitalized(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}
