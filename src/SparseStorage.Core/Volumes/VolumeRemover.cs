using SparseStorage.Core.Native;
using SparseStorage.Core.Snapshots;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Deletes volumes with their raw snapshots; with wipe, overwrites every allocated extent with zeros first so the
/// data cannot be read back. A base image of linked clones is refused.
/// </summary>
public sealed class VolumeRemover(StorageContext context)
{
    private const int WipeChunk = 4 * 1024 * 1024;

    public void Remove(SparseVolume volume, bool wipe, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(volume.Path);
        var attachment = context.ReadAttachments().Of(current.Path);
        if (attachment.IsAttached)
            throw new VolumeInUseException($"Volume '{current.Name}' cannot be removed: it is {attachment.Describe()}. Dismount it first.", current);
        new BackingChains(context).RequireNoDependants(current, "removed");
        if (current.Format != VolumeFormat.Qcow2)
            foreach (var snapshot in RawSnapshotStore.List(current))
                RawSnapshotStore.Remove(snapshot, wipe, progress, cancellationToken);
        if (wipe)
            Wipe(current.Path, progress, cancellationToken);
        File.Delete(current.Path);
    }

    /// <summary>Overwrites the allocated extents (holes hold no data) and flushes before the file is unlinked.</summary>
    internal static void Wipe(string path, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        // FileShare.ReadWrite: the volume lock already serialises changes, and an exclusive share lock would hide the volume from listings.
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1, FileOptions.None);
        var extents = SparseFile.DataExtents(file.SafeFileHandle, file.Length).ToList();
        var total = extents.Sum(e => e.Length);
        var zeros = new byte[WipeChunk];
        long done = 0;
        foreach (var extent in extents)
        {
            for (var offset = extent.Offset; offset < extent.End; offset += WipeChunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var count = (int)Math.Min(WipeChunk, extent.End - offset);
                RandomAccess.Write(file.SafeFileHandle, zeros.AsSpan(0, count), offset);
                done += count;
                progress?.Report(new OperationProgress($"Wiping {System.IO.Path.GetFileName(path)}", $"{ByteSize.Format(done)} of {ByteSize.Format(total)}", done, total));
            }
        }
        file.Flush(flushToDisk: true);
    }
}
