using SparseStorage.Core.Copying;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Volumes.Maintenance;

/// <summary>
/// Gives freed space back to the pool: fstrim through the filesystem (mounted temporarily when needed; loop
/// devices turn discards into holes in the image), holes for all-zero blocks of a dismounted raw image, and
/// qemu-img convert compaction of a dismounted qcow2 image.
/// </summary>
public sealed class VolumeOptimizer(StorageContext context) : IPlannedOperation<SparseVolume, OptimizePlan, VolumeOptimizeResult>
{
    /// <summary>Reads the volume again, checks its state and lists the steps, changing nothing.</summary>
    public OptimizePlan Plan(SparseVolume requested)
    {
        var volume = new VolumeCatalog(context).Get(requested.Path);
        var attachment = context.ReadAttachments().Of(volume.Path);
        var steps = StepRunner.ForPlan(context);
        var skipped = new List<string>();
        Run(volume, attachment, steps, skipped);
        return new OptimizePlan(volume, PlannedVolumeState.Of(volume, attachment), steps.Steps, skipped);
    }

    /// <summary>Takes the volume's lock, refuses if the volume changed since the plan, and runs the planned steps.</summary>
    public VolumeOptimizeResult Apply(OptimizePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Target, cancellationToken);
        var before = new VolumeCatalog(context).Get(plan.Target);
        var attachment = context.ReadAttachments().Of(before.Path);
        plan.State.RequireSame(before, PlannedVolumeState.Of(before, attachment), "optimization");
        var steps = StepRunner.ForApply(context, progress, $"Optimizing {before.Name}", cancellationToken);
        var skipped = new List<string>();
        Run(before, attachment, steps, skipped);
        var after = new VolumeCatalog(context).Get(before.Path);
        return new VolumeOptimizeResult
        {
            Name = after.Name, Path = after.Path, AllocatedBeforeBytes = before.AllocatedBytes, AllocatedAfterBytes = after.AllocatedBytes,
            Steps = steps.Steps, Skipped = skipped, Volume = after,
        };
    }

    /// <summary>Plans and applies at once, for callers that have nothing to confirm.</summary>
    public VolumeOptimizeResult Optimize(SparseVolume volume, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Apply(Plan(volume), progress, cancellationToken);

    public static ToolCommand TrimCommand(string mountPoint) => new ToolCommand("fstrim", "--verbose", mountPoint) { Timeout = TimeSpan.FromHours(2) };

    /// <summary>The rewrite can take hours on a large image: -p lets it report its percentage to Write-Progress.</summary>
    public static ToolCommand CompactCommand(string source, string destination, ToolOutputProgress? progress = null) =>
        new ToolCommand("qemu-img", "convert", "-p", "-f", "qcow2", "-O", "qcow2", source, destination) { Timeout = TimeSpan.FromHours(6), Progress = progress };

    private void Run(SparseVolume volume, Host.VolumeAttachment attachment, StepRunner steps, List<string> skipped)
    {
        new BackingChains(context).RequireNoDependants(volume, "optimized (fstrim and compaction write to it)");
        if (attachment.IsAttached && !attachment.IsMounted)
            throw new VolumeInUseException($"Volume '{volume.Name}' is {attachment.Describe()} without a mounted filesystem, so nothing here can trim it; mount or dismount it first.", volume.Path);
        if (attachment.IsMounted && attachment.ReadOnly)
            throw new VolumeInUseException($"Volume '{volume.Name}' is {attachment.Describe()} read-only; fstrim needs it writable. Dismount it (it is then mounted temporarily) or mount it read-write.", volume.Path);
        if (FileSystemRules.CanFreeze(volume.FileSystem))
            Trim(volume, attachment, steps);
        else
            skipped.Add($"fstrim: no mountable filesystem ({volume.FileSystem})");
        if (attachment.IsAttached)
        {
            skipped.Add("hole punching and compaction: the volume is mounted (fstrim did what can be done online)");
            return;
        }
        if (volume.Format == VolumeFormat.Qcow2)
            Compact(volume, steps, skipped);
        else
            steps.Do($"punch holes in all-zero {SparseCopier.ZeroBlockSize / 1024} KiB blocks of {volume.Path}",
                () => HolePuncher.PunchZeroBlocks(volume.Path, null, steps.Cancellation));
    }

    private void Trim(SparseVolume volume, Host.VolumeAttachment attachment, StepRunner steps)
    {
        using var access = new TemporaryAccess(context, volume, attachment, steps);
        steps.Tool(TrimCommand(access.MountPoint()));
        access.Close();
    }

    /// <summary>Rewrites the image without its unused clusters: beside it, then renamed over it. Internal snapshots and backing files rule it out (convert keeps neither).</summary>
    private void Compact(SparseVolume volume, StepRunner steps, List<string> skipped)
    {
        if (volume.SnapshotCount > 0 || volume.BackingFile is not null || volume.Encryption != "None")
        {
            skipped.Add($"qcow2 compaction: the image has {(volume.SnapshotCount > 0 ? "internal snapshots" : volume.BackingFile is not null ? "a backing file" : "encryption")}, which qemu-img convert would not keep");
            return;
        }
        // The work file's name is unique to the run that writes it.
        var temporary = steps.DryRun ? OperationPlan.Measured("work file beside the image") : SiblingFile.TemporaryFor(volume.Path);
        try
        {
            steps.Tool(CompactCommand(volume.Path, temporary, steps.QemuImgProgress()));
            steps.Do($"rename {temporary} to {volume.Path} if it allocates less", () =>
            {
                if (Libc.Stat(temporary).AllocatedBytes >= Libc.Stat(volume.Path).AllocatedBytes)
                {
                    skipped.Add("qcow2 compaction: the rewritten image was not smaller; the original is kept");
                    return;
                }
                File.SetUnixFileMode(temporary, File.GetUnixFileMode(volume.Path));
                File.Move(temporary, volume.Path, overwrite: true);
            });
        }
        finally
        {
            if (!steps.DryRun)
                SiblingFile.Discard(temporary);
        }
    }
}
