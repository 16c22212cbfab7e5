using System.Globalization;
using System.Text.Json;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Ceph;

/// <summary>One snapshot as <c>rbd snap ls --format json</c> describes it.</summary>
public sealed record RbdSnapshot(string Id, string Name, long SizeBytes, bool Protected, DateTime CreatedUtc);

/// <summary>The rbd command lines of an image's snapshots, and the reading of their JSON.</summary>
public static class RbdSnapshotCommands
{
    // rbd prints ctime's layout in the local time of the host that runs it: "Wed Dec  2 12:53:00 2026".
    private static readonly string[] TimestampFormats = ["ddd MMM d HH:mm:ss yyyy", "ddd MMM dd HH:mm:ss yyyy"];

    /// <summary>Every snapshot of one image with its id, size, protection and time: one call.</summary>
    public static ToolCommand ListSnapshots(this CephTools tools, string image) => tools.Rbd("snap", "ls", "--format", "json", "--image", image);

    public static ToolCommand CreateSnapshot(this CephTools tools, string image, string snapshot) =>
        tools.Rbd("snap", "create", "--no-progress", "--image", image, "--snap", snapshot);

    public static ToolCommand RollbackSnapshot(this CephTools tools, string image, string snapshot) =>
        tools.Rbd("snap", "rollback", "--no-progress", "--image", image, "--snap", snapshot);

    public static ToolCommand RemoveSnapshot(this CephTools tools, string image, string snapshot) =>
        tools.Rbd("snap", "rm", "--no-progress", "--image", image, "--snap", snapshot);

    public static ToolCommand UnprotectSnapshot(this CephTools tools, string image, string snapshot) =>
        tools.Rbd("snap", "unprotect", "--image", image, "--snap", snapshot);

    /// <summary>The clones of one protected snapshot (images whose parent it is), in any pool the client can see.</summary>
    public static ToolCommand ListChildren(this CephTools tools, string image, string snapshot) =>
        tools.Rbd("children", "--format", "json", "--image", image, "--snap", snapshot);

    /// <summary>The snapshots of <c>rbd snap ls --format json</c>, oldest first (by id, which only grows).</summary>
    public static IReadOnlyList<RbdSnapshot> Snapshots(string json)
    {
        using var document = Parse(json, "rbd snap ls");
        if (document.RootElement.ValueKind != JsonValueKind.Array)
            throw Invalid("rbd snap ls", "not a list");
        return document.RootElement.EnumerateArray()
            .Select(s => new RbdSnapshot(
                Text(s, "id"),
                Text(s, "name"),
                s.TryGetProperty("size", out var size) && size.TryGetInt64(out var bytes) ? bytes : 0,
                s.TryGetProperty("protected", out var p) && (p.ValueKind == JsonValueKind.True || (p.ValueKind == JsonValueKind.String && p.GetString() == "true")),
                Timestamp(Text(s, "timestamp"))))
            .OrderBy(s => long.TryParse(s.Id, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : long.MaxValue)
            .ToList();
    }

    /// <summary>The clones of <c>rbd children --format json</c>, as "pool[/namespace]/image".</summary>
    public static IReadOnlyList<string> Children(string json)
    {
        using var document = Parse(json, "rbd children");
        return document.RootElement.ValueKind != JsonValueKind.Array ? []
            : document.RootElement.EnumerateArray()
                .Select(c => Text(c, "pool") + (Text(c, "pool_namespace") is { Length: > 0 } ns ? "/" + ns : "") + "/" + Text(c, "image"))
                .ToList();
    }

    private static DateTime Timestamp(string text) =>
        DateTime.TryParseExact(text, TimestampFormats, CultureInfo.InvariantCulture,
            DateTimeStyles.AllowWhiteSpaces | DateTimeStyles.AssumeLocal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            : throw Invalid("rbd snap ls", $"the timestamp '{text}' is not in ctime's layout");

    private static string Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value)
            ? value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : value.ToString()
            : "";

    private static JsonDocument Parse(string json, string what)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new StorageOperationException("CephOutputInvalid", $"{what} printed JSON the module cannot read: {e.Message}", what, e);
        }
    }

    private static StorageOperationException Invalid(string what, string why) =>
        new("CephOutputInvalid", $"{what} printed JSON the module cannot read: {why}.", what);
}
