using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Native;
using SparseStorage.Core.Snapshots;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Deletes volumes with their raw snapshots; with wipe, overwrites every allocated extent with zeros first so the
/// data cannot be read back, or, for an encrypted volume, destroys its key slots (crypto-erase). A base image of
/// linked clones is refused.
/// </summary>
public sealed class VolumeRemover(StorageContext context)
{
    private const int WipeChunk = 4 * 1024 * 1024;

    public void Remove(SparseVolume volume, bool wipe, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(volume.Path, allowOutsideReferences: true);
        var attachment = context.ReadAttachments().Of(current.Path);
        if (attachment.IsAttached)
            throw new VolumeInUseException($"Volume '{current.Name}' cannot be removed: it is {attachment.Describe()}. Dismount it first.", current);
        RequireNotExported(current);
        new BackingChains(context).RequireNoDependants(current, "removed");
        if (current.Format != VolumeFormat.Qcow2)
            foreach (var snapshot in RawSnapshotStore.List(current))
                RawSnapshotStore.Remove(snapshot, wipe, progress, cancellationToken);
        Backups.ChangeReferences.RemoveAll(current.Path, wipe, progress, cancellationToken);
        var encryption = wipe ? ReadContainer(current.Path) : null;
        if (encryption is not null)
            DestroyKeySlots(current.Path, encryption);
        else if (wipe)
            Wipe(current.Path, progress, cancellationToken);
        File.Delete(current.Path);
    }

    /// <summary>
    /// The LUKS region to crypto-erase, or null to overwrite every allocated extent instead: also when the header is
    /// not one the module trusts (a crafted header's region is no guide to where the keys are).
    /// </summary>
    private static ContainerHeader? ReadContainer(string path)
    {
        try
        {
            return ContainerHeader.Read(path);
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>A running AoE export serves the image to other hosts; removing it would pull the disk from under them.</summary>
    private void RequireNotExported(SparseVolume volume)
    {
        var exports = new Aoe.AtaoeExportService(context).List()
            .Where(e => e.VolumePath == volume.Path && e.State == AtaoeExportState.Running).Select(e => $"{e.Target} on {e.Interface}").ToList();
        if (exports.Count > 0)
            throw new VolumeInUseException($"Volume '{volume.Name}' cannot be removed: it is exported over AoE as {string.Join(", ", exports)}. Stop the export first (Stop-AtaoeExport).", volume);
    }

    /// <summary>Overwrites the allocated extents (holes hold no data) and flushes before the file is unlinked.</summary>
    internal static void Wipe(string path, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        using var file = VolumeFile.OpenWrite(path);
        Wipe(file.Handle, System.IO.Path.GetFileName(path), progress, cancellationToken);
    }

    /// <summary>Wipes through an open descriptor: also for a file that has already been renamed over.</summary>
    internal static void Wipe(SafeFileHandle file, string name, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var extents = SparseFile.DataExtents(file, RandomAccess.GetLength(file)).ToList();
        var total = extents.Sum(e => e.Length);
        var zeros = new byte[WipeChunk];
        long done = 0;
        foreach (var extent in extents)
        {
            for (var offset = extent.Offset; offset < extent.End; offset += WipeChunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var count = (int)Math.Min(WipeChunk, extent.End - offset);
                RandomAccess.Write(file, zeros.AsSpan(0, count), offset);
                done += count;
                progress?.Report(new OperationProgress($"Wiping {name}", $"{ByteSize.Format(done)} of {ByteSize.Format(total)}", done, total));
            }
        }
        RandomAccess.FlushToDisk(file);
    }

    /// <summary>
    /// Crypto-erase: overwrites an encrypted image's LUKS header and key slots with random bytes and flushes, so no key
    /// can open its data again; the ciphertext itself need not be overwritten. The region comes from the header, which
    /// the tenant wrote, so it is cut to the file's real size: a wipe never makes a file longer.
    /// </summary>
    internal static void DestroyKeySlots(string path, ContainerHeader header)
    {
        using var file = VolumeFile.OpenWrite(path);
        var size = file.Status.Size;
        var start = Math.Clamp(header.RegionOffset, 0, size);
        var end = start + Math.Clamp(header.RegionLength, 0, size - start);
        for (var offset = start; offset < end; offset += WipeChunk)
            RandomAccess.Write(file.Handle, RandomNumberGenerator.GetBytes((int)Math.Min(WipeChunk, end - offset)), offset);
        RandomAccess.FlushToDisk(file.Handle);
    }
}
