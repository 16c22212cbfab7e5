using System.Text.Json;
using SparseStorage.Core.Host;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>A host's mount lock on an image: the description naming the host, the client that took it and that client's address.</summary>
public sealed record RbdLock(string Description, string Locker, string Cookie, string Address)
{
    /// <summary>The host the lock names, or its description when this module did not write it.</summary>
    public string Holder => RbdMountLock.HolderIn(Description) ?? Description;

    public string Describe() => $"host '{Holder}' (lock taken by {Locker} at {Address})";
}

/// <summary>
/// One writer across hosts: a read-write mount takes an exclusive RADOS lock whose description names the host, on a
/// small object beside the image (<c>sparsestorage_mount.IMAGE</c>), so a mount anywhere else finds it and is refused
/// with the holder named. Not an rbd advisory lock: that lives on the image header under the same name as librbd's own
/// exclusive lock, and would keep qemu's writer from ever taking it. A host is its name, followed by its runtime
/// directory when that is not the system's, so that two clients on one machine with their own runtime directories are
/// two hosts. The lock's cookie names the holder as its description does, so that a listing reads it with
/// <c>rados_list_lockers</c> (which returns cookies, not descriptions) over one connection for all images.
/// </summary>
public static class RbdMountLock
{
    public const string DescriptionPrefix = "sparsestorage mount on ";
    public const string LockName = "mount";
    private static readonly TimeSpan ClusterTimeout = TimeSpan.FromSeconds(60);

    public static string HolderOf(RuntimePaths runtime) =>
        Environment.MachineName + (Path.GetFullPath(runtime.Root) == SystemRuntimeRoot ? "" : ":" + Path.GetFullPath(runtime.Root));

    /// <summary>/run/sparsestorage: the runtime directory of a host's root sessions when SPARSESTORAGE_RUNTIME_DIR does not name another.</summary>
    private static string SystemRuntimeRoot => Path.GetDirectoryName(RuntimePaths.SystemFuseExports)!;

    public static string DescriptionFor(string holder) => DescriptionPrefix + holder;

    /// <summary>The cookie of a host's lock: the same text as its description, so either names the holder.</summary>
    public static string CookieFor(string holder) => DescriptionPrefix + holder;

    /// <summary>The holder a cookie or description of this module's lock names; null for any other text.</summary>
    public static string? HolderIn(string text) =>
        text.StartsWith(DescriptionPrefix, StringComparison.Ordinal) && text.Length > DescriptionPrefix.Length ? text[DescriptionPrefix.Length..] : null;

    public static string ObjectOf(string image) => "sparsestorage_mount." + image;

    public static ToolCommand Info(CephPoolSettings settings, string image) => Rados(settings, "lock", "info", ObjectOf(image), LockName, "--format", "json");

    public static ToolCommand Add(CephPoolSettings settings, string image, string holder) =>
        Rados(settings, "lock", "get", ObjectOf(image), LockName, "--lock-type", "exclusive", "--lock-cookie", CookieFor(holder), "--lock-description", DescriptionFor(holder));

    /// <summary>Deletes the image's lock object (with the image: the lock would otherwise outlive it).</summary>
    public static ToolCommand RemoveObject(CephPoolSettings settings, string image) => Rados(settings, "rm", ObjectOf(image));

    public static ToolCommand Remove(CephPoolSettings settings, string image, RbdLock held) =>
        Rados(settings, "lock", "break", ObjectOf(image), LockName, held.Locker, "--lock-cookie", held.Cookie);

    /// <summary>Fences a client: the cluster refuses it from now on (its writes included), so a host that only seems dead cannot write after its lock is broken.</summary>
    public static ToolCommand Blocklist(CephTools tools, string address) => tools.Ceph("osd", "blocklist", "add", address);

    /// <summary>The image's mount locks; none when its lock object was never made.</summary>
    public static IReadOnlyList<RbdLock> Locks(IProcessRunner runner, CephPoolSettings settings, string image, CancellationToken cancellationToken = default)
    {
        var result = runner.Run(Info(settings, image), cancellationToken);
        if (result.ExitCode != 0 && result.StandardError.Contains("No such file or directory", StringComparison.Ordinal))
            return [];
        result.EnsureSuccess();
        return ParseLocks(result.StandardOutput);
    }

    /// <summary>
    /// Runs <paramref name="body"/> while this host holds the image's mount lock, so that no host mounts the image while
    /// it is changed offline (resized, trimmed); the lock is given back after a failure too. A dry run shows the
    /// client that will hold the lock as a placeholder.
    /// </summary>
    internal static void WhileHeld(StorageContext context, CephPoolSettings settings, string image, StepRunner steps, Action body)
    {
        var holder = HolderOf(context.Runtime);
        var description = DescriptionFor(holder);
        steps.Tool(Add(settings, image, holder));
        try
        {
            body();
        }
        finally
        {
            var own = steps.DryRun
                ? new RbdLock(description, OperationPlan.Measured("this host's client"), CookieFor(holder), "")
                : Locks(context.Runner, settings, image).FirstOrDefault(l => l.Description == description);
            if (own is not null)
                steps.UndoTool(Remove(settings, image, own));
        }
    }

    /// <summary>
    /// Refuses a change made offline while the image is mounted read-write by a host (its lock) or open by any client
    /// (its watchers), naming them.
    /// </summary>
    internal static void RequireUnused(IProcessRunner runner, CephPoolSettings settings, string image, SparseVolume volume, string change)
    {
        if (Locks(runner, settings, image) is [var held, ..])
            throw new VolumeInUseException($"{volume.Name} is mounted read-write by {held.Describe()}; dismount it there before it is {change}.", volume);
        if (Watchers(runner, new CephTools(settings), image) is { Count: > 0 } watchers)
            throw new VolumeInUseException($"{volume.Name} is open by {string.Join(", ", watchers)} (RBD watchers); close it there before it is {change}.", volume);
    }

    /// <summary>The addresses of the clients that have the image open (its watchers).</summary>
    public static IReadOnlyList<string> Watchers(IProcessRunner runner, CephTools tools, string image, CancellationToken cancellationToken = default) =>
        ParseWatchers(runner.RunChecked(tools.Status(image), cancellationToken).StandardOutput);

    /// <summary>rados lock info --format json: {"lockers": [{"name", "cookie", "description", "addr"}]}.</summary>
    public static IReadOnlyList<RbdLock> ParseLocks(string json)
    {
        if (string.IsNullOrWhiteSpace(json))
            return [];
        using var document = JsonDocument.Parse(json);
        return document.RootElement.TryGetProperty("lockers", out var lockers) && lockers.ValueKind == JsonValueKind.Array
            ? lockers.EnumerateArray().Select(l => new RbdLock(Text(l, "description"), Text(l, "name"), Text(l, "cookie"), Text(l, "addr"))).ToList()
            : [];
    }

    private static ToolCommand Rados(CephPoolSettings settings, params string[] arguments) =>
        new("rados", ["--conf", settings.ConfigPath, "--id", settings.User, .. settings.Keyring is null ? Array.Empty<string>() : ["--keyring", settings.Keyring],
            "--pool", settings.Pool, .. settings.Namespace is null ? Array.Empty<string>() : ["--namespace", settings.Namespace], .. arguments]) { Timeout = ClusterTimeout };

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
