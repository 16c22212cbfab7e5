using SparseStorage.Core.Native;

namespace SparseStorage.Core.Host;

/// <summary>
/// Where the module keeps run-time state that must not outlive a reboot: volume locks, FUSE export records and AoE exports.
/// Root: /run/sparsestorage; others: $XDG_RUNTIME_DIR/sparsestorage. SPARSESTORAGE_RUNTIME_DIR overrides both.
/// </summary>
public sealed class RuntimePaths(string root)
{
    public static RuntimePaths Default => new(
        Environment.GetEnvironmentVariable("SPARSESTORAGE_RUNTIME_DIR") is { Length: > 0 } overridden ? overridden
        : Libc.geteuid() == 0 ? "/run/sparsestorage"
        : Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } xdg ? Path.Combine(xdg, "sparsestorage")
        : Path.Combine(Path.GetTempPath(), $"sparsestorage-{Libc.geteuid()}"));

    /// <summary>Where root's FUSE export records live; every session reads them, since only root can mount.</summary>
    public const string SystemFuseExports = "/run/sparsestorage/fuse";

    public string Root { get; } = root;
    public string Locks => Path.Combine(Root, "locks");
    public string FuseExports => Path.Combine(Root, "fuse");
    /// <summary>Records, pid files and logs of the vblade processes that export volumes over AoE (root only: 0700).</summary>
    public string AoeExports => Path.Combine(Root, "aoe");

    /// <summary>Creates the directory if needed, accessible to its owner and to others only as <paramref name="othersMay"/> says.</summary>
    public string Ensure(string directory, UnixFileMode othersMay = UnixFileMode.None)
    {
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | othersMay);
        return directory;
    }
}
