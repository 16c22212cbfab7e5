using SparseStorage.Core.Host;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Maintenance;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// Gives the space of freed blocks of a Ceph volume back to the cluster: fstrim through the filesystem (its discards
/// reach librbd through the FUSE export, which deallocates them), then <c>rbd sparsify</c>, which deallocates the
/// all-zero parts of the image's objects. A volume mounted here is trimmed online and not sparsified (its daemon holds
/// the image); a dismounted one is trimmed through a temporary mount of its export, under this host's mount lock.
/// </summary>
public sealed class CephVolumeOptimize(StorageContext context) : IPlannedOperation<SparseVolume, OptimizePlan, VolumeOptimizeResult>
{
    public static bool Handles(SparseVolume volume) => CephPoolSettings.IsRbdPath(volume.Path);

    public OptimizePlan Plan(SparseVolume requested)
    {
        var (pool, image) = Resolve(requested.Path);
        var attachments = context.ReadAttachments();
        var volume = pool.Volume(image, attachments: attachments);
        var attachment = attachments.Of(volume.Path);
        Check(pool.Settings, image, volume, attachment);
        var steps = StepRunner.ForPlan(context);
        var skipped = new List<string>();
        Run(pool.Settings, image, volume, attachment, steps, skipped);
        return new OptimizePlan(volume, PlannedVolumeState.Of(volume, attachment), steps.Steps, skipped);
    }

    /// <summary>Takes the volume's lock, refuses if the image changed since the plan, and runs the planned steps.</summary>
    public VolumeOptimizeResult Apply(OptimizePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Target, cancellationToken);
        var (pool, image) = Resolve(plan.Target);
        var attachments = context.ReadAttachments();
        var before = pool.Volume(image, cancellationToken, attachments);
        var attachment = attachments.Of(before.Path);
        plan.State.RequireSame(before, PlannedVolumeState.Of(before, attachment), "optimization");
        Check(pool.Settings, image, before, attachment);
        var steps = StepRunner.ForApply(context, progress, $"Optimizing {before.Name}", cancellationToken);
        var skipped = new List<string>();
        Run(pool.Settings, image, before, attachment, steps, skipped);
        var after = pool.Volume(image, cancellationToken, context.ReadAttachments());
        return new VolumeOptimizeResult
        {
            Name = after.Name, Path = after.Path, AllocatedBeforeBytes = before.AllocatedBytes, AllocatedAfterBytes = after.AllocatedBytes,
            Steps = steps.Steps, Skipped = skipped, Volume = after,
        };
    }

    public static ToolCommand SparsifyCommand(CephTools tools, string image) =>
        tools.Rbd("sparsify", "--no-progress", "--image", image) with { Timeout = TimeSpan.FromHours(6) };

    private void Check(CephPoolSettings settings, string image, SparseVolume volume, VolumeAttachment attachment)
    {
        if (volume.IsBroken)
            throw new VolumeInUseException($"{volume.Name} has a FUSE export whose daemon is gone; run Dismount-SparseVolume first.", volume);
        if (attachment.IsAttached && !attachment.IsMounted)
            throw new VolumeInUseException($"Volume '{volume.Name}' is {attachment.Describe()} without a mounted filesystem, so nothing here can trim it; mount or dismount it first.", volume.Path);
        if (attachment.IsMounted && attachment.ReadOnly)
            throw new VolumeInUseException($"Volume '{volume.Name}' is {attachment.Describe()} read-only; fstrim needs it writable. Dismount it (it is then mounted temporarily) or mount it read-write.", volume.Path);
        if (!attachment.IsAttached)
            RbdMountLock.RequireUnused(context.Runner, settings, image, volume, "optimized");
    }

    private void Run(CephPoolSettings settings, string image, SparseVolume volume, VolumeAttachment attachment, StepRunner steps, List<string> skipped)
    {
        if (attachment.IsMounted)
        {
            steps.Tool(VolumeOptimizer.TrimCommand(attachment.MountPoints[0]));
            skipped.Add("rbd sparsify: the volume is mounted (fstrim did what can be done online)");
            return;
        }
        RbdMountLock.WhileHeld(context, settings, image, steps, () =>
        {
            if (FileSystemRules.CanFreeze(volume.FileSystem))
                Trim(settings, image, volume, steps);
            else
                skipped.Add($"fstrim: no mountable filesystem ({volume.FileSystem})");
            steps.Tool(SparsifyCommand(new CephTools(settings), image));
        });
    }

    private void Trim(CephPoolSettings settings, string image, SparseVolume volume, StepRunner steps)
    {
        using var access = new TemporaryAccess(context, volume, VolumeAttachment.Detached, steps, asFile: new RbdExportAsFile(new RbdExport(context, settings, image)));
        steps.Tool(VolumeOptimizer.TrimCommand(access.MountPoint()));
        access.Close();
    }

    private (CephPool Pool, string Image) Resolve(string volumePath)
    {
        foreach (var definition in context.Pools.Definitions().Where(d => d.IsCeph))
            if (definition.Ceph!.ImageOf(volumePath) is { } image)
                return (new CephPool(context.Runner, definition), image);
        throw new PathOutsidePoolException($"'{volumePath}' names no image of a registered Ceph pool; register its pool with Register-StoragePool -CephPool.", volumePath);
    }
}
