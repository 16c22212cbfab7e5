using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// qemu-img command lines for qcow2 images with encrypt.format=luks. Keys reach qemu only as
/// <see cref="SecretFile"/> paths in --object secret,…,file=….
/// </summary>
public static class QemuCrypto
{
    /// <summary>Copies a plain qcow2 image into a new encrypted one; unallocated clusters stay unallocated.</summary>
    public static ToolCommand Encrypt(string plain, string encrypted, long clusterSize, SecretFile key, int iterationTimeMilliseconds) =>
        new("qemu-img", "convert", "-q", "-m", "8", "-W", "--object", key.QemuObject("key0"), "-f", "qcow2", plain, "-O", "qcow2",
            "-o", $"encrypt.format=luks,encrypt.key-secret=key0,encrypt.iter-time={iterationTimeMilliseconds},cluster_size={clusterSize}", encrypted);

    public static ToolCommand Decrypt(string encrypted, string plain, long clusterSize, SecretFile key) =>
        new("qemu-img", "convert", "-q", "-m", "8", "-W", "--object", key.QemuObject("key0"), "--image-opts", Open(encrypted, "key0"),
            "-O", "qcow2", "-o", $"cluster_size={clusterSize}", plain);

    /// <summary>Compares every guest byte of a plain and an encrypted qcow2 image; exit code 1 means they differ.</summary>
    public static ToolCommand Compare(string plain, string encrypted, SecretFile key) =>
        new("qemu-img", "compare", "-q", "--object", key.QemuObject("key0"), "--image-opts",
            $"driver=qcow2,file.filename={Escape(plain)}", Open(encrypted, "key0")) { SuccessExitCodes = [0, 1] };

    public static ToolCommand AddKey(string image, SecretFile existing, SecretFile newKey, int iterationTimeMilliseconds) =>
        new("qemu-img", "amend", "--object", existing.QemuObject("key0"), "--object", newKey.QemuObject("key1"), "--image-opts", Open(image, "key0"),
            "-o", $"encrypt.state=active,encrypt.new-secret=key1,encrypt.iter-time={iterationTimeMilliseconds}");

    /// <summary>Erases every key slot that <paramref name="key"/> opens; --force lets qemu erase the last one (the caller decides).</summary>
    public static ToolCommand RemoveKey(string image, SecretFile key) =>
        new("qemu-img", "amend", "--force", "--object", key.QemuObject("key0"), "--image-opts", Open(image, "key0"),
            "-o", "encrypt.state=inactive,encrypt.old-secret=key0");

    /// <summary>Reads one sector through the decryption: succeeds only with a key that opens a slot.</summary>
    public static ToolCommand TestKey(string image, SecretFile key) =>
        new("qemu-io", "-r", "--object", key.QemuObject("key0"), "--image-opts", Open(image, "key0"), "--cmd", "read -q 0 512");

    /// <summary>
    /// Runs a command that derives a LUKS key. qemu times PBKDF2 with the thread's CPU clock and gives up with "Unable
    /// to get accurate CPU usage" when a busy host yields a zero reading; a second or third try gets a real one.
    /// </summary>
    public static ToolResult RunKeyDerivation(IProcessRunner runner, ToolCommand command, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var result = runner.Run(command, cancellationToken);
            if (result.ExitCode == 0 || attempt == 3 || !result.StandardError.Contains("Unable to get accurate CPU usage", StringComparison.Ordinal))
                return result.EnsureSuccess();
        }
    }

    private static string Open(string image, string secretId) => $"driver=qcow2,file.filename={Escape(image)},encrypt.key-secret={secretId}";

    private static string Escape(string value) => value.Replace(",", ",,");
}
