using SparseStorage.Core.Encryption;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// Reads a client's key from a Ceph keyring file, for qemu, whose rbd driver takes a key only as a secret object (a
/// file), not a keyring path. The key goes from here only into a <see cref="SecretFile"/> on tmpfs.
/// </summary>
public static class CephKeyring
{
    public static VolumeKey ReadKey(CephPoolSettings settings)
    {
        var path = settings.Keyring ?? throw new InvalidOperationException("No keyring file is set.");
        var section = $"[{settings.ClientName}]";
        var inSection = false;
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            if (line.StartsWith('['))
                inSection = line == section;
            else if (inSection && line.StartsWith("key", StringComparison.Ordinal) && line.IndexOf('=') is var equals and > 0 && line[..equals].Trim() == "key")
                return VolumeKey.FromPassphrase(line.AsSpan(equals + 1).Trim());
        }
        throw new InvalidStorageArgumentException("CephKeyNotFound", $"The keyring {path} holds no key for {settings.ClientName}.", path);
    }
}
