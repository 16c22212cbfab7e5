using SparseStorage.Core.Devices;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>What Remove-SparseVolume was asked for, for a volume of a Ceph pool.</summary>
public sealed record RemoveCephVolumeRequest(SparseVolume Volume, bool Wipe);

/// <summary>The removal of one RBD image as planned, with its steps.</summary>
public sealed record RemoveCephVolumePlan(string PoolName, string Image, string VolumePath, bool Wipe, long AllocatedBytes, IReadOnlyList<string> PlannedSteps) : OperationPlan
{
    public override string Target => VolumePath;
    public override string Action => Wipe ? $"Wipe {ByteSize.Format(AllocatedBytes)} of data and remove volume" : "Remove volume";
    public override IReadOnlyList<string> Steps => PlannedSteps;
    public override string? ConfirmationQuery => $"Remove {VolumePath} and the data it holds{(Wipe ? " (zeros are written over it first)" : "")}?";

    /// <summary>Whether the image's mount-lock object exists (a mount made it), to be removed with the image.</summary>
    public bool RemovesLockObject { get; init; }
}

/// <summary>
/// Removes an RBD image (<c>rbd rm</c>). With wipe, zeros are first written over every allocated extent of the image
/// through qemu's rbd driver (exported over FUSE), and flushed: the image's objects hold zeros before they are deleted.
/// That is what a client can do; the OSDs' BlueStore writes new data elsewhere on its disks and frees the old
/// blocks, so it cannot promise that the old bytes are gone from the OSDs' disks (encrypted OSDs can). The image's
/// mount-lock object (<see cref="RbdMountLock.ObjectOf"/>), left by its mounts, is removed first, so nothing of the
/// volume outlives it. Refused while the image has snapshots, clients (watchers) have it open, or a host holds its
/// mount lock (a host that died with the volume mounted: take it over with Mount-SparseVolume -BreakLockOf first).
/// </summary>
public sealed class CephVolumeRemoval(StorageContext context) : IPlannedOperation<RemoveCephVolumeRequest, RemoveCephVolumePlan, SparseVolume>
{
    public RemoveCephVolumePlan Plan(RemoveCephVolumeRequest request)
    {
        var (definition, image) = Resolve(request.Volume.Path);
        var current = Check(definition, image);
        var plan = new RemoveCephVolumePlan(definition.Name, image, current.Path, request.Wipe, current.AllocatedBytes, [])
        {
            Impact = PlanImpact.High,
            RemovesLockObject = CheckMountLock(definition.Ceph!, current),
        };
        var dryRun = StepRunner.ForPlan(context);
        Run(dryRun, plan, definition.Ceph!);
        return plan with { PlannedSteps = dryRun.Steps };
    }

    public SparseVolume Apply(RemoveCephVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.VolumePath, cancellationToken);
        var (definition, image) = Resolve(plan.VolumePath);
        var current = Check(definition, image);
        if (CheckMountLock(definition.Ceph!, current) != plan.RemovesLockObject)
            throw new StorageOperationException("ChangedSincePlanned",
                $"{plan.VolumePath} was mounted or removed after the plan was made, so nothing was done. Run the command again to plan it anew.", plan.VolumePath);
        Run(StepRunner.ForApply(context, progress, $"Removing {image}", cancellationToken), plan, definition.Ceph!);
        return current;
    }

    /// <summary>The image as it is now; refused while it has snapshots, is exported on this host, or is open anywhere.</summary>
    private SparseVolume Check(PoolDefinition definition, string image)
    {
        var pool = new CephPool(context.Runner, definition);
        var volume = pool.Volume(image);
        if (volume.SnapshotCount > 0)
            throw new VolumeInUseException($"Volume '{image}' has {volume.SnapshotCount} snapshot(s); remove them before the volume (Remove-VolumeSnapshot).", volume);
        if (FuseExportRecord.Read(context.Runtime.FuseExports, volume.Path) is not null)
            throw new VolumeInUseException($"Volume '{image}' is exported by a qemu-storage-daemon on this host; dismount it first.", volume);
        var watchers = CephListing.Watchers(context.Runner.RunChecked(pool.Tools.Status(image)).StandardOutput);
        if (watchers.Count > 0)
            throw new VolumeInUseException($"Volume '{image}' is open by {string.Join(", ", watchers)} (RBD watchers); it is removed only when no client has it open.", volume);
        return volume;
    }

    /// <summary>Refuses the removal while a host holds the image's mount lock; whether the lock object exists.</summary>
    private static bool CheckMountLock(CephPoolSettings settings, SparseVolume volume)
    {
        var state = RadosHeads.MountLock(settings, volume.Name);
        if (state.Lockers is [var held, ..])
            throw new VolumeInUseException(
                $"Volume '{volume.Name}' is mounted read-write on host '{held.Holder}' (its mount lock is held by {held.Client} at {held.Address}); " +
                $"dismount it there, or, if that host is dead, take the volume over with Mount-SparseVolume -BreakLockOf '{held.Holder}' and dismount it.", volume);
        return state.ObjectExists;
    }

    private void Run(StepRunner steps, RemoveCephVolumePlan plan, CephPoolSettings settings)
    {
        if (plan.Wipe)
            Wipe(steps, plan, settings);
        if (plan.RemovesLockObject)
            steps.Tool(RbdMountLock.RemoveObject(settings, plan.Image));
        steps.Tool(new CephTools(settings).Remove(plan.Image));
    }

    private void Wipe(StepRunner steps, RemoveCephVolumePlan plan, CephPoolSettings settings)
    {
        var export = new RbdExport(context, settings, plan.Image);
        var record = export.Start(steps);
        try
        {
            // The FUSE file answers SEEK_DATA from librbd's allocation map: only written extents are overwritten.
            steps.Do($"write zeros over every allocated extent of {export.ExportPath} and flush",
                () => VolumeRemover.Wipe(export.ExportPath, null, steps.Cancellation));
        }
        finally
        {
            export.Stop(steps, record);
        }
    }

    private (PoolDefinition Pool, string Image) Resolve(string volumePath)
    {
        foreach (var definition in context.Pools.Definitions().Where(d => d.IsCeph))
            if (definition.Ceph!.ImageOf(volumePath) is { } image)
                return (definition, image);
        throw new PathOutsidePoolException($"'{volumePath}' names no image of a registered Ceph pool.", volumePath);
    }
}
