using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Encryption;

/// <summary>Finds which of the given keys opens an encrypted image, without opening it for use.</summary>
internal static class KeyProbe
{
    /// <summary>The first key that opens <paramref name="image"/>; errors name <paramref name="shownAs"/> (the volume) when the image is a view of it.</summary>
    public static VolumeKey KeyThatOpens(IProcessRunner runner, string image, ContainerHeader header, IReadOnlyList<VolumeKey> keys, CancellationToken cancellationToken, string? shownAs = null)
    {
        var named = shownAs ?? image;
        if (keys.Count == 0)
            throw new InvalidStorageArgumentException("KeyRequired", $"{named} is encrypted; give a passphrase or a key file.", named);
        foreach (var key in keys)
            if (Opens(runner, image, header, key, cancellationToken))
                return key;
        throw NoneOpens(keys, named);
    }

    /// <summary>The error for keys that do not open <paramref name="image"/>: it names them by kind and file, never by content.</summary>
    public static WrongKeyException NoneOpens(IReadOnlyList<VolumeKey> keys, string image) =>
        new(keys.Count == 1
            ? $"The key ({VolumeKey.Describe(keys)}) does not open {image}; nothing was changed."
            : $"None of the keys ({VolumeKey.Describe(keys)}) opens {image}; nothing was changed.", image);

    private static bool Opens(IProcessRunner runner, string image, ContainerHeader header, VolumeKey key, CancellationToken cancellationToken)
    {
        if (header.Container != EncryptionContainer.Qcow2Luks)
        {
            var result = runner.Run(CryptSetup.TestKey(image, key), cancellationToken);
            if (result.ExitCode == CryptSetup.WrongKeyExitCode)
                return false;
            result.EnsureSuccess();
            return true;
        }
        using var secret = new SecretFile(key);
        var probe = runner.Run(QemuCrypto.TestKey(image, secret), cancellationToken);
        if (probe.ExitCode != 0 && probe.StandardError.Contains("Invalid password", StringComparison.Ordinal))
            return false;
        probe.EnsureSuccess();
        return true;
    }
}
