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

    /// <summary>
    /// Copies the volume into a new snapshot (null in a dry run): the copy under a hidden name, renamed when complete,
    /// then its metadata, which makes it a snapshot.
    /// </summary>
    public static VolumeSnapshot? Create(SparseVolume volume, string name, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        var folder = FolderOf(volume.Path);
        var dataPath = DataPath(folder, name);
        var temporary = SiblingFile.TemporaryFor(dataPath);
        var moved = false;
        SparseCopyResult? copy = null;
        VolumeSnapshot? snapshot = null;
        try
        {
            steps.Do($"Copy {volume.Path} to {dataPath} (sharing its blocks where the pool's filesystem can, else a sparse copy)", () =>
            {
                Directory.CreateDirectory(folder);
                copy = SparseCopier.Copy(volume.Path, temporary, new SparseCopyOptions(), progress, steps.Cancellation);
                File.Move(temporary, dataPath, overwrite: true); // a copy without metadata is a leftover of an interrupted run
                moved = true;
            });
            steps.Do($"Write the snapshot's record {MetadataPath(folder, name)}", () =>
            {
                var metadata = new Metadata(name, NextId(volume), copy!.Method == CopyMethod.Reflink ? SnapshotKind.Reflink : SnapshotKind.SparseCopy, DateTime.UtcNow, copy.SizeBytes);
                WriteMetadata(MetadataPath(folder, name), metadata);
                snapshot = ToSnapshot(volume, metadata, dataPath);
            });
            return snapshot;
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
    public static void Restore(VolumeSnapshot snapshot, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        var temporary = SiblingFile.TemporaryFor(snapshot.VolumePath);
        try
        {
            steps.Do($"Copy snapshot {snapshot.SnapshotPath} into a hidden file beside {snapshot.VolumePath}", () =>
            {
                SparseCopier.Copy(snapshot.SnapshotPath!, temporary, new SparseCopyOptions(), progress, steps.Cancellation);
                File.SetUnixFileMode(temporary, File.GetUnixFileMode(snapshot.VolumePath));
            });
            steps.Do($"Rename it over {snapshot.VolumePath}", () => File.Move(temporary, snapshot.VolumePath, overwrite: true));
        }
        finally
        {
            SiblingFile.Discard(temporary);
        }
    }

    /// <summary>Deletes one snapshot as two steps: its record first, so that an interruption leaves at worst an unlisted copy.</summary>
    public static void Remove(VolumeSnapshot snapshot, StepRunner steps)
    {
        var folder = FolderOf(snapshot.VolumePath);
        steps.Do($"Delete the snapshot's record {MetadataPath(folder, snapshot.Name)}", () => File.Delete(MetadataPath(folder, snapshot.Name)));
        steps.Do($"Delete the snapshot's copy {DataPath(folder, snapshot.Name)}", () =>
        {
            File.Delete(DataPath(folder, snapshot.Name));
            VolumeSideFolder.DeleteIfEmpty(folder);
        });
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
