using SparseStorage.Core.Devices;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Host;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Resize;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// Grows and shrinks a volume of a Ceph pool with its filesystem, in the order and with the refusals of a file volume,
/// running <see cref="VolumeResizer"/>'s own filesystem steps: grow = <c>rbd resize</c>, then the filesystem; shrink =
/// measure, refuse below used space plus the margin, shrink and check the filesystem, and only then
/// <c>rbd resize --allow-shrink</c>. The filesystem steps run on the image exported as a file by qemu-storage-daemon
/// (<see cref="RbdExport"/>), with a loop device and a temporary mount where the tool needs a mounted filesystem (xfs,
/// btrfs). The volume must be dismounted on every host; this host holds the image's mount lock while it resizes, so
/// no host can mount it meanwhile.
/// </summary>
public sealed class CephVolumeResize(StorageContext context) : IPlannedOperation<ResizeRequest, ResizePlan, VolumeResizeResult>
{
    private readonly VolumeResizer resizer = new(context);

    public static bool Handles(SparseVolume volume) => CephPoolSettings.IsRbdPath(volume.Path);

    /// <summary>
    /// Reads the image again, checks the request against it and lists the steps, changing nothing. A shrink below the
    /// space the image's superblock says is used (plus the margin) is refused here, as the run would refuse it.
    /// </summary>
    public ResizePlan Plan(ResizeRequest request)
    {
        request.Validate();
        var (pool, image) = Resolve(request.Volume.Path);
        var rbdImage = pool.Image(image);
        var attachments = context.ReadAttachments();
        var volume = pool.Volumes([rbdImage], attachments).Single();
        var attachment = attachments.Of(volume.Path);
        var warnings = Check(pool, image, volume, attachment, request);
        var steps = StepRunner.ForPlan(context);
        Run(pool.Settings, image, volume, request, steps, VolumeResizer.IsShrink(volume, request) ? SuperblockUsedBytes(pool.Settings, rbdImage, volume) : 0);
        var newSize = request.ToMinimumSize ? (long?)null : VolumeResizer.TargetOf(volume, request);
        return new ResizePlan(request, volume, PlannedVolumeState.Of(volume, attachment), newSize, steps.Steps) { Warnings = warnings };
    }

    /// <summary>Takes the volume's lock, refuses if the image changed since the plan, and runs the planned steps; a shrink measures its minimum with resize2fs -P or btrfs.</summary>
    public VolumeResizeResult Apply(ResizePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Target, cancellationToken);
        var (pool, image) = Resolve(plan.Target);
        var attachments = context.ReadAttachments();
        var before = pool.Volume(image, cancellationToken, attachments);
        var attachment = attachments.Of(before.Path);
        plan.State.RequireSame(before, PlannedVolumeState.Of(before, attachment), "resize");
        Check(pool, image, before, attachment, plan.Request);
        var steps = StepRunner.ForApply(context, progress, $"Resizing {before.Name}", cancellationToken);
        Run(pool.Settings, image, before, plan.Request, steps, 0);
        var after = pool.Volume(image, cancellationToken, context.ReadAttachments());
        return new VolumeResizeResult
        {
            Name = after.Name, Path = after.Path, OldSizeBytes = before.SizeBytes, NewSizeBytes = after.SizeBytes,
            FileSystem = after.FileSystem, FileSystemSizeBytes = after.FileSystemSizeBytes, Steps = steps.Steps, Volume = after,
        };
    }

    /// <summary>The refusals that need no measurement; for a grow, the pool's warnings (or its MaxOvercommit refusal).</summary>
    private IReadOnlyList<string> Check(CephPool pool, string image, SparseVolume volume, VolumeAttachment attachment, ResizeRequest request)
    {
        ResizeRules.RequireResizable(volume, attachment);
        var shrink = VolumeResizer.IsShrink(volume, request);
        if (shrink)
            ResizeRules.RequireShrinkable(volume, attachment);
        RequireDismounted(pool, image, volume, attachment);
        var target = VolumeResizer.TargetOf(volume, request);
        return shrink || target <= volume.SizeBytes ? []
            : ProvisioningGuard.Check(pool.Describe(), target - volume.SizeBytes,
                $"Growing {volume.Name} from {ByteSize.Format(volume.SizeBytes)} to {ByteSize.Format(target)}");
    }

    /// <summary>
    /// The filesystem is resized offline, through this host's own export of the image: refused while the image is
    /// mounted here (online ext4 growth is refused by this kernel, and the mount's daemon would keep the old size), or
    /// mounted or open on another host.
    /// </summary>
    private void RequireDismounted(CephPool pool, string image, SparseVolume volume, VolumeAttachment attachment)
    {
        if (attachment.IsAttached)
            throw new ResizeNotSupportedException("ResizeWhileMounted",
                $"{volume.Name} is {attachment.Describe()} on this host; a volume of a Ceph pool is resized while dismounted. Dismount it first.", volume);
        RbdMountLock.RequireUnused(context.Runner, pool.Settings, image, volume, "resized");
    }

    /// <param name="usedBySuperblock">What a dry run takes as the filesystem's minimum; a real run measures it.</param>
    private void Run(CephPoolSettings settings, string image, SparseVolume volume, ResizeRequest request, StepRunner steps, long usedBySuperblock)
    {
        var shrink = VolumeResizer.IsShrink(volume, request);
        var target = VolumeResizer.TargetOf(volume, request);
        if (!shrink && target <= volume.SizeBytes && !ResizeRules.FileSystemLags(volume))
            return;
        RbdMountLock.WhileHeld(context, settings, image, steps, () =>
        {
            if (shrink)
                Shrink(settings, image, volume, request, steps, usedBySuperblock);
            else
                Grow(settings, image, volume, target, steps);
        });
    }

    private void Grow(CephPoolSettings settings, string image, SparseVolume volume, long target, StepRunner steps)
    {
        if (target > volume.SizeBytes)
            steps.Tool(new CephTools(settings).Resize(image, Bytes(target), shrink: false));
        using var access = Access(settings, image, volume, steps);
        resizer.GrowFileSystem(volume, VolumeAttachment.Detached, target, access, steps);
        access.Close();
    }

    private void Shrink(CephPoolSettings settings, string image, SparseVolume volume, ResizeRequest request, StepRunner steps, long usedBySuperblock)
    {
        VolumeResizer.NewSize target;
        using (var access = Access(settings, image, volume, steps))
        {
            target = resizer.ShrinkFileSystem(volume, request, access, steps, usedBySuperblock);
            access.Close();
        }
        if (target.Bytes >= volume.SizeBytes)
            return;
        steps.Tool(new CephTools(settings).Resize(image, target.Show(steps, Bytes), shrink: true));
        if (volume.FileSystem == FileSystemType.Swap)
        {
            using var access = Access(settings, image, volume, steps);
            resizer.RecreateSwap(volume, access.RawView(), steps);
            access.Close();
        }
    }

    private TemporaryAccess Access(CephPoolSettings settings, string image, SparseVolume volume, StepRunner steps) =>
        new(context, volume, VolumeAttachment.Detached, steps, asFile: new RbdExportAsFile(new RbdExport(context, settings, image)));

    /// <summary>
    /// The space the image's filesystem uses by its superblock, read in-process through librados, so that a plan can
    /// refuse a shrink below it; 0 where it cannot be read here: then the run's own measurement decides alone.
    /// </summary>
    private static long SuperblockUsedBytes(CephPoolSettings settings, RbdImage image, SparseVolume volume)
    {
        if (volume.FileSystem is not (FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4 or FileSystemType.Btrfs))
            return 0;
        try
        {
            return RadosHeads.ReadHead(settings, image) is { } head ? FileSystemUsage.UsedBytes(head) ?? 0 : 0;
        }
        catch (InvalidDataException)
        {
            return 0;
        }
    }

    private static string Bytes(long bytes) => ToolCommand.Number(bytes) + "B";

    private (CephPool Pool, string Image) Resolve(string volumePath)
    {
        foreach (var definition in context.Pools.Definitions().Where(d => d.IsCeph))
            if (definition.Ceph!.ImageOf(volumePath) is { } image)
                return (new CephPool(context.Runner, definition), image);
        throw new PathOutsidePoolException($"'{volumePath}' names no image of a registered Ceph pool; register its pool with Register-StoragePool -CephPool.", volumePath);
    }
}
