using System.Text.Json;
using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Ceph;

/// <summary>An advisory RBD lock on an image: its id, the client that took it and that client's address.</summary>
public sealed record RbdLock(string Id, string Locker, string Address)
{
    /// <summary>The host a mount lock names, or null for a lock this module did not take.</summary>
    public string? Holder => Id.StartsWith(RbdMountLock.IdPrefix, StringComparison.Ordinal) ? Id[RbdMountLock.IdPrefix.Length..] : null;

    public string Describe() => Holder is { } holder ? $"host '{holder}' (lock taken by {Locker} at {Address})" : $"{Locker} at {Address} (lock '{Id}')";
}

/// <summary>
/// One writer across hosts: a read-write mount takes an exclusive advisory lock on the image whose id names the host
/// (<c>rbd lock add</c>), so a mount anywhere else finds it and is refused with the holder named. A host is its name,
/// followed by its runtime directory when that is not the system's, so that two clients on one machine with their own
/// runtime directories are two hosts.
/// </summary>
public static class RbdMountLock
{
    public const string IdPrefix = "sparsestorage mount on ";

    public static string HolderOf(RuntimePaths runtime) =>
        Environment.MachineName + (Path.GetFullPath(runtime.Root) == Path.GetFullPath(RuntimePaths.Default.Root) ? "" : ":" + Path.GetFullPath(runtime.Root));

    public static string IdFor(string holder) => IdPrefix + holder;

    public static ToolCommand List(CephTools tools, string image) => tools.Rbd("lock", "ls", "--format", "json", "--image", image);

    public static ToolCommand Add(CephTools tools, string image, string lockId) => tools.Rbd("lock", "add", "--image", image, lockId);

    public static ToolCommand Remove(CephTools tools, string image, RbdLock held) => tools.Rbd("lock", "rm", "--image", image, held.Id, held.Locker);

    /// <summary>Fences a client: the cluster refuses it from now on (its writes included), so a host that only seems dead cannot write after its lock is broken.</summary>
    public static ToolCommand Blocklist(CephTools tools, string address) => tools.Ceph("osd", "blocklist", "add", address);

    public static IReadOnlyList<RbdLock> Locks(IProcessRunner runner, CephTools tools, string image, CancellationToken cancellationToken = default) =>
        ParseLocks(runner.RunChecked(List(tools, image), cancellationToken).StandardOutput);

    /// <summary>The addresses of the clients that have the image open (its watchers).</summary>
    public static IReadOnlyList<string> Watchers(IProcessRunner runner, CephTools tools, string image, CancellationToken cancellationToken = default) =>
        ParseWatchers(runner.RunChecked(tools.Status(image), cancellationToken).StandardOutput);

    /// <summary>rbd lock ls --format json: a list of {id, locker, address} (or, from older rbd, an object keyed by id).</summary>
    public static IReadOnlyList<RbdLock> ParseLocks(string json)
    {
        if (string.IsNullOrWhiteSpace(json))
            return [];
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return root.ValueKind switch
        {
            JsonValueKind.Array => root.EnumerateArray().Select(l => new RbdLock(Text(l, "id"), Text(l, "locker"), Text(l, "address"))).ToList(),
            JsonValueKind.Object => root.EnumerateObject().Select(p => new RbdLock(p.Name, Text(p.Value, "locker"), Text(p.Value, "address"))).ToList(),
            _ => [],
        };
    }

    /// <summary>rbd status --format json: {"watchers": [{"address": ...}, ...]}.</summary>
    public static IReadOnlyList<string> ParseWatchers(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.TryGetProperty("watchers", out var watchers) && watchers.ValueKind == JsonValueKind.Array
            ? watchers.EnumerateArray().Select(w => Text(w, "address")).Where(a => a.Length > 0).ToList()
            : [];
    }

    private static string Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
}
