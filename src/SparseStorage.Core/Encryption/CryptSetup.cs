using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// cryptsetup command lines for raw LUKS images. A key travels on standard input (--key-file -), a second key as a
/// <see cref="SecretFile"/>; neither ever appears in the arguments.
/// </summary>
public static class CryptSetup
{
    /// <summary>cryptsetup's exit code for "no key available with this passphrase".</summary>
    public const int WrongKeyExitCode = 2;

    public static ToolCommand Format(string image, EncryptionContainer container, VolumeKey key, int iterationTimeMilliseconds) =>
        WithKey(new ToolCommand("cryptsetup", "luksFormat", "--type", container == EncryptionContainer.Luks2 ? "luks2" : "luks1",
            "--batch-mode", "--iter-time", ToolCommand.Number(iterationTimeMilliseconds), "--key-file", "-", image), key);

    /// <summary>LUKS1 with the payload at exactly <paramref name="payloadSectors"/> (the header fits in 2 MiB), for an image whose size is fixed before the header is written.</summary>
    public static ToolCommand FormatLuks1(string image, VolumeKey key, int iterationTimeMilliseconds, long payloadSectors) =>
        WithKey(new ToolCommand("cryptsetup", "luksFormat", "--type", "luks1", "--batch-mode", "--iter-time", ToolCommand.Number(iterationTimeMilliseconds),
            "--align-payload", ToolCommand.Number(payloadSectors), "--key-file", "-", image), key);

    public static ToolCommand AddKey(string image, VolumeKey existing, SecretFile newKey, int iterationTimeMilliseconds) =>
        WithKey(new ToolCommand("cryptsetup", "luksAddKey", "--batch-mode", "--iter-time", ToolCommand.Number(iterationTimeMilliseconds),
            "--key-file", "-", image, newKey.Path), existing);

    public static ToolCommand RemoveKey(string image, VolumeKey key) =>
        WithKey(new ToolCommand("cryptsetup", "luksRemoveKey", "--batch-mode", "--key-file", "-", image), key);

    public static ToolCommand TestKey(string image, VolumeKey key) =>
        WithKey(new ToolCommand("cryptsetup", "open", "--test-passphrase", "--key-file", "-", image), key);

    public static ToolCommand Open(string image, string name, VolumeKey key, bool readOnly, bool allowDiscards) =>
        WithKey(Open(image, name, readOnly, allowDiscards), key);

    /// <summary>The open command as shown: the key it reads from standard input is added by the overload that runs it.</summary>
    public static ToolCommand Open(string image, string name, bool readOnly, bool allowDiscards) =>
        new("cryptsetup", ["open", "--type", "luks", "--key-file", "-",
            .. readOnly ? new[] { "--readonly" } : [], .. allowDiscards ? new[] { "--allow-discards" } : [], image, name]);

    public static ToolCommand Close(string name) => new("cryptsetup", "close", name);

    private static ToolCommand WithKey(ToolCommand command, VolumeKey key) =>
        command with { StandardInput = key.Secret, SuccessExitCodes = [0] };
}
