namespace SparseStorage.Core.Ceph;

/// <summary>
/// How a Ceph pool is reached: the cluster's configuration file, the RBD pool and its namespace, the client id, and
/// the keyring file that holds the client's key (null: the keyring the configuration names). The key itself is never
/// stored, passed as an argument or put in the environment; the tools read it from the keyring file.
/// </summary>
public sealed record CephPoolSettings(string ConfigPath, string Pool, string User, string? Keyring = null, string? Namespace = null)
{
    public const string PathPrefix = "rbd:";

    /// <summary>"rbd:POOL" or "rbd:POOL/NAMESPACE": the pool's Path, as qemu's rbd filename begins.</summary>
    public string Location => PathPrefix + Pool + (Namespace is null ? "" : "/" + Namespace);

    /// <summary>"rbd:POOL[/NAMESPACE]/IMAGE": a volume's Path, the image as qemu's rbd filename names it.</summary>
    public string ImagePath(string image) => Location + "/" + image;

    /// <summary>The image a volume path of this pool names, or null when the path is not in this pool.</summary>
    public string? ImageOf(string volumePath) =>
        volumePath.StartsWith(Location + "/", StringComparison.Ordinal) && volumePath[(Location.Length + 1)..] is { Length: > 0 } image && !image.Contains('/')
            ? image
            : null;

    /// <summary>"client.admin": the name Ceph's tools and logs use.</summary>
    public string ClientName => "client." + User;

    public static bool IsRbdPath(string path) => path.StartsWith(PathPrefix, StringComparison.Ordinal);

    /// <summary>
    /// Refuses a volume of a Ceph pool for a command that does not handle RBD images yet, before it would treat the
    /// image's "rbd:" path as a file.
    /// </summary>
    public static SparseVolume RefuseUnlessFile(SparseVolume volume, string command) =>
        IsRbdPath(volume.Path)
            ? throw new InvalidStorageArgumentException("CephVolumeNotSupported",
                $"{command} does not act on volumes of Ceph pools yet ({volume.Path} in pool '{volume.Pool}'); about_SparseStorage lists the cmdlets that do.", volume)
            : volume;
}
