using System.Security.Cryptography;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// A key handed to qemu, which takes secrets only on its command line or from a file: a 0600 file in a fresh 0700
/// directory on tmpfs (/dev/shm), so it never reaches a disk. Dispose overwrites and deletes it; callers dispose as
/// soon as the tool has read it.
/// </summary>
public sealed class SecretFile : IDisposable
{
    private const string TmpfsRoot = "/dev/shm";
    private readonly string directory;
    private readonly int length;

    private SecretFile(string path)
    {
        directory = "";
        Path = path;
    }

    /// <summary>A file name only, for the command lines of a dry run: nothing is written.</summary>
    public static SecretFile Placeholder() => new("<secret file>");

    public static SecretFile For(VolumeKey key, bool dryRun) => dryRun ? Placeholder() : new SecretFile(key);

    public SecretFile(VolumeKey key)
    {
        key.RequireQemuCompatible();
        directory = System.IO.Path.Combine(TmpfsRoot, "sparsestorage-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant());
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Path = System.IO.Path.Combine(directory, "key");
        length = key.Secret.Length;
        using var file = Libc.Open(Path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000);
        RandomAccess.Write(file, key.Secret.Span, 0);
    }

    public string Path { get; }

    /// <summary>qemu's --object argument that loads this file as secret <paramref name="id"/>; the argument holds only the path.</summary>
    public string QemuObject(string id) => $"secret,id={id},file={Path.Replace(",", ",,")}";

    public void Dispose()
    {
        if (directory.Length == 0)
            return;
        try
        {
            if (File.Exists(Path))
            {
                using (var file = Libc.Open(Path, Libc.O_RDWR | Libc.O_CLOEXEC, 0))
                    RandomAccess.Write(file, new byte[length], 0);
                File.Delete(Path);
            }
            Directory.Delete(directory);
        }
        catch (IOException)
        {
            // Already gone: nothing to protect.
        }
    }
}
