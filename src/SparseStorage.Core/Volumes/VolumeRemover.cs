using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Snapshots;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Deletes volumes with their raw snapshots; with wipe, overwrites every allocated extent with zeros first so the
/// data cannot be read back, or, for an encrypted volume, destroys its key slots (crypto-erase). A base image of
/// linked clones is refused.
/// </summary>
public sealed class VolumeRemover(StorageContext context) : IPlannedOperation<RemoveVolumeRequest, RemoveVolumePlan, SparseVolume>
{
    private const int WipeChunk = 4 * 1024 * 1024;

    /// <summary>Checks that the volume may be removed (not in use, not exported, no linked clones) and lists what will be deleted.</summary>
    public RemoveVolumePlan Plan(RemoveVolumeRequest request)
    {
        var current = new VolumeCatalog(context).Get(request.Volume.Path, allowOutsideReferences: true);
        var attachment = context.ReadAttachments().Of(current.Path);
        if (attachment.IsAttached)
            throw new VolumeInUseException($"Volume '{current.Name}' cannot be removed: it is {attachment.Describe()}. Dismount it first.", current);
        RequireNotExported(current);
        new BackingChains(context).RequireNoDependants(current, "removed");
        var plan = new RemoveVolumePlan(current, request.Wipe) { Impact = PlanImpact.High };
        var dryRun = StepRunner.ForPlan(context);
        Run(plan, dryRun, null);
        return plan with { Steps = dryRun.Steps.ToList() };
    }

    /// <summary>Removes the volume under its lock, once the same request planned again gives the same steps.</summary>
    public SparseVolume Apply(RemoveVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        PlanRecheck.RequireSameSteps(plan, Plan(new RemoveVolumeRequest(plan.Volume, plan.Wipe)));
        Run(plan, StepRunner.ForApply(context, progress, $"Removing {plan.Volume.Name}", cancellationToken), progress);
        return plan.Volume;
    }

    /// <summary>Plans and applies a removal in one call, for callers that confirm nothing.</summary>
    public void Remove(SparseVolume volume, bool wipe, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Apply(Plan(new RemoveVolumeRequest(volume, wipe)), progress, cancellationToken);

    private static void Run(RemoveVolumePlan plan, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        var volume = plan.Volume;
        var wipe = plan.Wipe;
        if (volume.Format != VolumeFormat.Qcow2)
            foreach (var snapshot in RawSnapshotStore.List(volume))
                steps.Do($"{(wipe ? "wipe and delete" : "delete")} snapshot '{snapshot.Name}' ({snapshot.SnapshotPath})",
                    () => RawSnapshotStore.Remove(snapshot, wipe, progress, steps.Cancellation));
        var references = Backups.ChangeReferences.FolderOf(volume.Path);
        if (Directory.Exists(references))
            steps.Do($"{(wipe ? "wipe and delete" : "delete")} the backup change references in {references}",
                () => Backups.ChangeReferences.RemoveAll(volume.Path, wipe, progress, steps.Cancellation));
        var encryption = wipe ? ReadContainer(volume.Path) : null;
        if (encryption is not null)
            steps.Do($"destroy the key slots of {volume.Path} (overwrite its {encryption.Container} header with random bytes)", () => DestroyKeySlots(volume.Path, encryption));
        else if (wipe)
            steps.Do($"wipe {ByteSize.Format(volume.AllocatedBytes)} of data in {volume.Path}", () => Wipe(volume.Path, progress, steps.Cancellation));
        steps.Do($"delete {volume.Path}", () => File.Delete(volume.Path));
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
