using System.Security.Cryptography;
using System.Text.RegularExpressions;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// A key handed to qemu, which takes secrets only on its command line or from a file: a 0600 file in a fresh 0700
/// directory on tmpfs (/dev/shm), so it never reaches a disk. Dispose overwrites and deletes it; callers dispose as
/// soon as the tool has read it. The directory's name carries the owning process
/// (<c>sparsestorage-secret-&lt;pid&gt;-&lt;start time&gt;-&lt;random&gt;</c>), so that a key left by a killed process is found and
/// removed by a later call (<see cref="Leftovers.LeftoverSweeper"/>).
/// </summary>
public sealed partial class SecretFile : IDisposable
{
    public const string TmpfsRoot = "/dev/shm";
    private const string KeyFileName = "key";
    private readonly string directory;

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
        directory = System.IO.Path.Combine(TmpfsRoot, $"{DirectoryPrefix}{ProcessIdentity.Current}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant()}");
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Path = System.IO.Path.Combine(directory, KeyFileName);
        using var file = Libc.Open(Path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000);
        RandomAccess.Write(file, key.Secret.Span, 0);
    }

    public string Path { get; }

    /// <summary>qemu's --object argument that loads this file as secret <paramref name="id"/>; the argument holds only the path.</summary>
    public string QemuObject(string id) => $"secret,id={id},file={Path.Replace(",", ",,")}";

    public void Dispose()
    {
        if (directory.Length > 0)
            Destroy(directory);
    }

    private const string DirectoryPrefix = "sparsestorage-secret-";

    [GeneratedRegex("^sparsestorage-secret-([0-9]{1,10})-([0-9]{1,20})-[0-9a-f]{16}$")]
    private static partial Regex DirectoryName();

    /// <summary>The process that wrote a secret directory in <see cref="TmpfsRoot"/>, from its name; null for any other name.</summary>
    public static ProcessIdentity? OwnerOf(string directoryName)
    {
        var match = DirectoryName().Match(directoryName);
        return match.Success && ProcessIdentity.TryParse(match.Groups[1].Value, match.Groups[2].Value, out var owner) ? owner : null;
    }

    /// <summary>
    /// Whether a directory of <see cref="TmpfsRoot"/> is one this user made: a real directory (not a link) owned by this
    /// user, so that nobody else can have put anything in it. /dev/shm is writable by all; another user may make a
    /// directory with the same kind of name.
    /// </summary>
    public static bool IsOwnDirectory(string secretDirectory) =>
        new DirectoryInfo(secretDirectory) is { Exists: true, LinkTarget: null } && Libc.Stat(secretDirectory).Uid == Libc.geteuid();

    /// <summary>Overwrites the key with zeros and removes it and its directory; a directory already gone is no error.</summary>
    public static void Destroy(string secretDirectory)
    {
        var key = System.IO.Path.Combine(secretDirectory, KeyFileName);
        try
        {
            if (File.Exists(key))
            {
                using (var file = Libc.Open(key, Libc.O_RDWR | Libc.O_CLOEXEC, 0))
                    RandomAccess.Write(file, new byte[RandomAccess.GetLength(file)], 0);
                File.Delete(key);
            }
            Directory.Delete(secretDirectory);
        }
        catch (IOException)
        {
            // Already gone: nothing to protect.
        }
    }
}
