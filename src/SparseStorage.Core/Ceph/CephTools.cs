using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// The rbd and ceph command lines of one pool: every one names the configuration, the client id and the keyring file
/// (never the key), and asks for JSON where it reads something.
/// </summary>
public sealed class CephTools(CephPoolSettings settings)
{
    /// <summary>A cluster that does not answer within this time is reported, not waited for.</summary>
    private static readonly TimeSpan ClusterTimeout = TimeSpan.FromSeconds(60);

    public CephPoolSettings Settings => settings;

    /// <summary>rbd with the connection options and <c>--pool P [--namespace NS]</c> after <paramref name="arguments"/>.</summary>
    public ToolCommand Rbd(params string[] arguments) =>
        new("rbd", [.. Connection(), .. arguments, .. PoolOptions()]) { Timeout = ClusterTimeout };

    /// <summary>ceph with the connection options.</summary>
    public ToolCommand Ceph(params string[] arguments) =>
        new("ceph", [.. Connection(), "--connect-timeout", "30", .. arguments]) { Timeout = ClusterTimeout };

    /// <summary>Every image of the pool with its size, parent and snapshots: one call for the whole pool.</summary>
    public ToolCommand ListImages() => Rbd("ls", "--long", "--format", "json");

    /// <summary>The names of the pool's images: cheap, and fails when the pool or namespace does not exist.</summary>
    public ToolCommand ListNames() => Rbd("ls", "--format", "json");

    /// <summary>What every image of the pool really uses (fast with the object-map feature): one call for the whole pool.</summary>
    public ToolCommand DiskUsage() => Rbd("du", "--format", "json");

    /// <summary>One image's size, id, parent and snapshot count.</summary>
    public ToolCommand ImageInfo(string image) => Rbd("info", "--format", "json", "--image", image);

    /// <summary>What one image and its snapshots really use.</summary>
    public ToolCommand DiskUsage(string image) => Rbd("du", "--format", "json", "--image", image);

    public ToolCommand ClusterUsage() => Ceph("df", "--format", "json");

    public ToolCommand Create(string image, long sizeBytes) =>
        Rbd("create", "--size", ToolCommand.Number(sizeBytes) + "B", "--image", image);

    /// <summary>
    /// Sets an image's virtual size (<paramref name="size"/>: bytes followed by B, or a placeholder a plan shows); a
    /// shrink must say so, as it discards everything beyond the new size.
    /// </summary>
    public ToolCommand Resize(string image, string size, bool shrink) =>
        Rbd(["resize", "--no-progress", "--size", size, .. shrink ? ["--allow-shrink"] : Array.Empty<string>(), "--image", image]);

    public ToolCommand Remove(string image) => Rbd("rm", "--no-progress", "--image", image);

    /// <summary>The clients that have the image open (watchers), one image only.</summary>
    public ToolCommand Status(string image) => Rbd("status", "--format", "json", "--image", image);

    private string[] Connection() =>
        ["--conf", settings.ConfigPath, "--id", settings.User, .. settings.Keyring is null ? Array.Empty<string>() : ["--keyring", settings.Keyring]];

    private string[] PoolOptions() =>
        ["--pool", settings.Pool, .. settings.Namespace is null ? Array.Empty<string>() : ["--namespace", settings.Namespace]];
}
