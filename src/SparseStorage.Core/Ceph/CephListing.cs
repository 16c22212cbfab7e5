using System.Text.Json;
using System.Text.Json.Serialization;

namespace SparseStorage.Core.Ceph;

/// <summary>One image as <c>rbd ls --long</c> and <c>rbd du</c> describe it, snapshots counted.</summary>
public sealed record RbdImage(string Name, string Id, long SizeBytes, long UsedBytes, int SnapshotCount, string? Parent);

/// <summary>A pool's space as <c>ceph df</c> reports it: what its images store, and what it can still take at its replication.</summary>
public sealed record CephPoolSpace(long StoredBytes, long MaxAvailableBytes);

/// <summary>Reads the JSON of rbd and ceph (Pacific's field names; unknown fields are ignored).</summary>
public static class CephListing
{
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowReadingFromString };

    private sealed record LongEntry(
        [property: JsonPropertyName("image")] string Image,
        [property: JsonPropertyName("id")] string? Id,
        [property: JsonPropertyName("size")] long Size,
        [property: JsonPropertyName("snapshot")] string? Snapshot,
        [property: JsonPropertyName("parent")] ParentEntry? Parent);

    private sealed record InfoEntry(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("id")] string? Id,
        [property: JsonPropertyName("size")] long Size,
        [property: JsonPropertyName("snapshot_count")] int SnapshotCount,
        [property: JsonPropertyName("parent")] ParentEntry? Parent);

    private sealed record ParentEntry(
        [property: JsonPropertyName("pool")] string Pool,
        [property: JsonPropertyName("pool_namespace")] string? Namespace,
        [property: JsonPropertyName("image")] string Image,
        [property: JsonPropertyName("snapshot")] string Snapshot);

    private sealed record UsageDocument([property: JsonPropertyName("images")] List<UsageEntry> Images);

    private sealed record UsageEntry(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("snapshot")] string? Snapshot,
        [property: JsonPropertyName("used_size")] long UsedSize);

    private sealed record DfDocument([property: JsonPropertyName("pools")] List<DfPool> Pools);

    private sealed record DfPool([property: JsonPropertyName("name")] string Name, [property: JsonPropertyName("stats")] DfStats Stats);

    private sealed record DfStats(
        [property: JsonPropertyName("stored")] long Stored,
        [property: JsonPropertyName("max_avail")] long MaxAvail);

    /// <summary>
    /// The images of <c>rbd ls --long --format json</c> joined with <c>rbd du --format json</c>: each image once (its
    /// snapshots are separate entries of both, counted, not listed) with the used bytes of its head (0 when du did
    /// not list it).
    /// </summary>
    public static IReadOnlyList<RbdImage> Images(string listJson, string? usageJson)
    {
        var entries = Parse<List<LongEntry>>(listJson, "rbd ls --long") ?? [];
        var used = usageJson is null ? new Dictionary<string, long>() : HeadUsage(usageJson);
        var snapshots = entries.Where(e => e.Snapshot is not null).GroupBy(e => e.Image).ToDictionary(g => g.Key, g => g.Count());
        return entries.Where(e => e.Snapshot is null)
            .Select(e => new RbdImage(e.Image, e.Id ?? "", e.Size, used.GetValueOrDefault(e.Image), snapshots.GetValueOrDefault(e.Image), ParentPath(e.Parent)))
            .OrderBy(i => i.Name, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>One image from <c>rbd info --format json</c> joined with <c>rbd du --image</c>, as <see cref="Images"/> gives it in a listing.</summary>
    public static RbdImage Image(string infoJson, string usageJson)
    {
        var info = Parse<InfoEntry>(infoJson, "rbd info")
                   ?? throw new StorageOperationException("CephOutputInvalid", "rbd info printed no image.", "rbd info");
        return new RbdImage(info.Name, info.Id ?? "", info.Size, HeadUsage(usageJson).GetValueOrDefault(info.Name), info.SnapshotCount, ParentPath(info.Parent));
    }

    /// <summary>The used bytes of each image's head in <c>rbd du --format json</c> (its snapshots are entries of their own).</summary>
    private static Dictionary<string, long> HeadUsage(string usageJson) =>
        (Parse<UsageDocument>(usageJson, "rbd du")?.Images ?? []).Where(u => u.Snapshot is null)
            .GroupBy(u => u.Name).ToDictionary(g => g.Key, g => g.First().UsedSize);

    /// <summary>The pool's line of <c>ceph df --format json</c>; null when the cluster has no such pool.</summary>
    public static CephPoolSpace? PoolSpace(string dfJson, string pool) =>
        (Parse<DfDocument>(dfJson, "ceph df")?.Pools ?? []).Where(p => p.Name == pool)
            .Select(p => new CephPoolSpace(p.Stats.Stored, p.Stats.MaxAvail)).FirstOrDefault();

    /// <summary>The image names of <c>rbd ls --format json</c>.</summary>
    public static IReadOnlyList<string> Names(string json) => Parse<List<string>>(json, "rbd ls") ?? [];

    /// <summary>The watchers of <c>rbd status --format json</c>, as "address" strings.</summary>
    public static IReadOnlyList<string> Watchers(string json)
    {
        using var document = Parse<JsonDocument>(json, "rbd status");
        return document is not null && document.RootElement.TryGetProperty("watchers", out var watchers) && watchers.ValueKind == JsonValueKind.Array
            ? watchers.EnumerateArray().Select(w => w.TryGetProperty("address", out var a) ? a.GetString() ?? "" : w.ToString()).ToList()
            : [];
    }

    private static string? ParentPath(ParentEntry? parent) =>
        parent is null ? null
            : CephPoolSettings.PathPrefix + parent.Pool + (string.IsNullOrEmpty(parent.Namespace) ? "" : "/" + parent.Namespace) + "/" + parent.Image + "@" + parent.Snapshot;

    private static T? Parse<T>(string json, string what)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Json);
        }
        catch (JsonException e)
        {
            throw new StorageOperationException("CephOutputInvalid", $"{what} printed JSON the module cannot read: {e.Message}", what, e);
        }
    }
}
