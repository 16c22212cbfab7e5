using System.Globalization;
using System.Text.Json;
using SparseStorage.Core.Copying;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Snapshots;

/// <summary>
/// Snapshots of raw volumes, kept beside the volume in the pool's hidden folder
/// <c>.snapshots/&lt;volume file name&gt;/</c>: per snapshot the copy <c>&lt;name&gt;.img</c> (a reflink where the
/// pool's filesystem shares blocks, else a sparse copy) and <c>&lt;name&gt;.json</c> (name, id, kind, created,
/// source size). The metadata file is written last, so a snapshot without one is an interrupted copy.
/// </summary>
public static class RawSnapshotStore
{
    public const string FolderName = ".snapshots";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private sealed record Metadata(string Name, string Id, SnapshotKind Kind, DateTime CreatedUtc, long SizeBytes);

    public static string FolderOf(string volumePath) => VolumeSideFolder.Of(volumePath, FolderName);

    public static int Count(string volumePath)
    {
        var folder = FolderOf(volumePath);
        return Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*.json").Count() : 0;
    }

    public static IEnumerable<VolumeSnapshot> List(SparseVolume volume)
    {
        var folder = FolderOf(volume.Path);
        if (!Directory.Exists(folder))
            return [];
        return Directory.EnumerateFiles(folder, "*.json")
            .Select(file => Describe(volume, file))
            .OrderBy(s => s.CreatedUtc).ThenBy(s => int.TryParse(s.Id, CultureInfo.InvariantCulture, out var id) ? id : 0);
    }

    public static VolumeSnapshot Create(SparseVolume volume, string name, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var folder = Directory.CreateDirectory(FolderOf(volume.Path)).FullName;
        var dataPath = DataPath(folder, name);
        var temporary = SiblingFile.TemporaryFor(dataPath);
        var moved = false;
        try
        {
            var copy = SparseCopier.Copy(volume.Path, temporary, new SparseCopyOptions(), progress, cancellationToken);
            var kind = copy.Method == CopyMethod.Reflink ? SnapshotKind.Reflink : SnapshotKind.SparseCopy;
            File.Move(temporary, dataPath, overwrite: true); // a copy without metadata is a leftover of an interrupted run
            moved = true;
            var metadata = new Metadata(name, NextId(volume), kind, DateTime.UtcNow, copy.SizeBytes);
            WriteMetadata(MetadataPath(folder, name), metadata);
            return ToSnapshot(volume, metadata, dataPath);
        }
        catch
        {
            SiblingFile.Discard(temporary);
            if (moved)
                SiblingFile.Discard(dataPath);
            throw;
        }
    }

    /// <summary>Replaces the volume's image with the snapshot's copy: written beside the volume, flushed, renamed over it.</summary>
    public static void Restore(VolumeSnapshot snapshot, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var temporary = SiblingFile.TemporaryFor(snapshot.VolumePath);
        try
        {
            SparseCopier.Copy(snapshot.SnapshotPath!, temporary, new SparseCopyOptions(), progress, cancellationToken);
            File.SetUnixFileMode(temporary, File.GetUnixFileMode(snapshot.VolumePath));
            File.Move(temporary, snapshot.VolumePath, overwrite: true);
        }
        finally
        {
            SiblingFile.Discard(temporary);
        }
    }

    /// <summary>Deletes one snapshot: metadata first, so that an interruption leaves at worst an unlisted copy.</summary>
    public static void Remove(VolumeSnapshot snapshot, bool wipe, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var folder = FolderOf(snapshot.VolumePath);
        File.Delete(MetadataPath(folder, snapshot.Name));
        if (wipe && File.Exists(snapshot.SnapshotPath))
            VolumeRemover.Wipe(snapshot.SnapshotPath, progress, cancellationToken);
        File.Delete(DataPath(folder, snapshot.Name));
        VolumeSideFolder.DeleteIfEmpty(folder);
    }

    private static VolumeSnapshot Describe(SparseVolume volume, string metadataFile)
    {
        try
        {
            var metadata = JsonSerializer.Deserialize<Metadata>(File.ReadAllText(metadataFile), Json)
                           ?? throw new InvalidDataException("empty");
            return ToSnapshot(volume, metadata, DataPath(Path.GetDirectoryName(metadataFile)!, metadata.Name));
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw new StorageOperationException("SnapshotMetadataInvalid",
                $"The snapshot metadata {metadataFile} of volume '{volume.Name}' is damaged ({e.Message}); fix or delete it together with its .img file.", metadataFile, e);
        }
    }

    private static VolumeSnapshot ToSnapshot(SparseVolume volume, Metadata metadata, string dataPath) =>
        VolumeSnapshot.Of(volume, metadata.Name, metadata.Id, metadata.Kind, DateTime.SpecifyKind(metadata.CreatedUtc, DateTimeKind.Utc),
            metadata.SizeBytes, snapshotPath: dataPath);

    private static string NextId(SparseVolume volume)
    {
        var ids = List(volume).Select(s => int.TryParse(s.Id, CultureInfo.InvariantCulture, out var id) ? id : 0);
        return (ids.DefaultIfEmpty(0).Max() + 1).ToString(CultureInfo.InvariantCulture);
    }

    private static void WriteMetadata(string path, Metadata metadata)
    {
        var temporary = SiblingFile.TemporaryFor(path);
        File.WriteAllText(temporary, JsonSerializer.Serialize(metadata, Json));
        File.Move(temporary, path);
    }

    private static string DataPath(string folder, string name) => Path.Combine(folder, name + ".img");
    private static string MetadataPath(string folder, string name) => Path.Combine(folder, name + ".json");
}
