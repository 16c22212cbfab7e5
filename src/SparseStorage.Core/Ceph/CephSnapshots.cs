using SparseStorage.Core.Devices;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Snapshots;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// Snapshots of volumes of Ceph pools as RBD snapshots: <c>rbd snap create</c>, <c>ls</c>, <c>rollback</c>, <c>rm</c>.
/// The cluster keeps them; they cost nothing when taken and only what changes afterwards. Listing one image's
/// snapshots is one rbd call; the pool listing counts them without extra calls (rbd ls --long lists them).
/// </summary>
public sealed class CephSnapshots(StorageContext context)
{
    public IReadOnlyList<VolumeSnapshot> List(SparseVolume volume)
    {
        var (pool, image) = Resolve(volume.Path);
        return Read(pool, image).Select(s => ToSnapshot(volume, s)).ToList();
    }

    public NewSnapshotPlan Plan(NewSnapshotRequest request)
    {
        var (volume, name) = (request.Volume, SnapshotService.RequireValidName(request.Name));
        var (pool, image) = Resolve(volume.Path);
        if (Read(pool, image).Any(s => s.Name == name))
            throw new ResourceExistsException("SnapshotExists", $"Volume '{volume.Name}' already has a snapshot named '{name}'; choose another name or remove it first.", name);
        var attachment = context.ReadAttachments().Of(volume.Path);
        var consistency = FileSystemFreeze.Assess(volume, attachment);
        var warnings = consistency == WriteConsistency.Detached
            ? ElsewhereOpen(volume, pool, image, request.AllowUnpausedWrites, $"snapshot '{name}'", ref consistency)
            : UnpausedWrites.Check(volume, attachment, consistency, request.AllowUnpausedWrites, $"snapshot '{name}'", "snapshot it");
        if (consistency == WriteConsistency.Frozen)
            context.RequireRoot($"Freezing {attachment.MountPoints[0]} to snapshot it");
        var plan = new NewSnapshotPlan(volume, name, consistency) { AllowUnpausedWrites = request.AllowUnpausedWrites, Warnings = warnings };
        var steps = StepRunner.ForPlan(context);
        Create(plan, pool, image, attachment, steps);
        return plan with { Steps = steps.Steps };
    }

    public VolumeSnapshot Apply(NewSnapshotPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var current = Plan(new NewSnapshotRequest(new VolumeCatalog(context).Get(plan.Volume.Path), plan.Name) { AllowUnpausedWrites = plan.AllowUnpausedWrites });
        SnapshotService.RequireUnchanged(plan, current, current.Consistency == plan.Consistency);
        var (pool, image) = Resolve(current.Volume.Path);
        Create(current, pool, image, context.ReadAttachments().Of(current.Volume.Path),
            StepRunner.ForApply(context, progress, $"Snapshotting {current.Volume.Name}", cancellationToken));
        return Find(current.Volume, pool, image, current.Name);
    }

    /// <summary>A rollback writes the snapshot's data over the image: refused while any client (here or elsewhere) has it open.</summary>
    public RestoreSnapshotPlan Plan(RestoreSnapshotRequest request)
    {
        var volume = request.Volume;
        var (pool, image) = Resolve(volume.Path);
        var snapshot = new SnapshotService(context).Find(volume, request.Name);
        RequireClosed(volume, pool, image, $"restored to snapshot '{snapshot.Name}'");
        var steps = StepRunner.ForPlan(context);
        Rollback(pool, image, snapshot, steps);
        return new RestoreSnapshotPlan(volume, snapshot) { Impact = PlanImpact.High, Steps = steps.Steps };
    }

    public SparseVolume Apply(RestoreSnapshotPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var current = Plan(new RestoreSnapshotRequest(new VolumeCatalog(context).Get(plan.Volume.Path), plan.Snapshot.Name));
        SnapshotService.RequireUnchanged(plan, current, SnapshotService.SameSnapshot(plan.Snapshot, current.Snapshot));
        var (pool, image) = Resolve(current.Volume.Path);
        Rollback(pool, image, current.Snapshot, StepRunner.ForApply(context, progress, $"Restoring {current.Volume.Name}", cancellationToken));
        return new VolumeCatalog(context).Get(current.Volume.Path);
    }

    /// <summary>A protected snapshot is unprotected first; one that clones still depend on is refused.</summary>
    public RemoveSnapshotPlan Plan(RemoveSnapshotRequest request)
    {
        var (pool, image) = Resolve(request.Volume.Path);
        var snapshots = Read(pool, image);
        var name = SnapshotService.Pick(request.Volume, snapshots.Select(s => ToSnapshot(request.Volume, s)).ToList(), request.Name).Name;
        var snapshot = snapshots.First(s => s.Name == name);
        if (snapshot.Protected)
        {
            var children = RbdSnapshotCommands.Children(context.Runner.RunChecked(pool.Tools.ListChildren(image, snapshot.Name)).StandardOutput);
            if (children.Count > 0)
                throw new VolumeInUseException(
                    $"Snapshot '{snapshot.Name}' of volume '{request.Volume.Name}' is the parent of {string.Join(", ", children)} (RBD clones); " +
                    "remove or flatten them before the snapshot.", request.Volume.Path);
        }
        var steps = StepRunner.ForPlan(context);
        Remove(pool, image, snapshot, steps);
        return new RemoveSnapshotPlan(request.Volume, ToSnapshot(request.Volume, snapshot)) { Impact = PlanImpact.High, Steps = steps.Steps };
    }

    public VolumeSnapshot Apply(RemoveSnapshotPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var current = Plan(new RemoveSnapshotRequest(new VolumeCatalog(context).Get(plan.Volume.Path), plan.Snapshot.Name));
        SnapshotService.RequireUnchanged(plan, current, SnapshotService.SameSnapshot(plan.Snapshot, current.Snapshot));
        var (pool, image) = Resolve(current.Volume.Path);
        var snapshot = Read(pool, image).First(s => s.Name == current.Snapshot.Name);
        Remove(pool, image, snapshot, StepRunner.ForApply(context, progress, $"Removing snapshot {current.Snapshot}", cancellationToken));
        return current.Snapshot;
    }

    private static void Create(NewSnapshotPlan plan, CephPool pool, string image, VolumeAttachment attachment, StepRunner steps) =>
        UnpausedWrites.PausedAround(steps, plan.Consistency, attachment, () => steps.Tool(pool.Tools.CreateSnapshot(image, plan.Name)));

    private static void Rollback(CephPool pool, string image, VolumeSnapshot snapshot, StepRunner steps) =>
        steps.Tool(pool.Tools.RollbackSnapshot(image, snapshot.Name));

    private static void Remove(CephPool pool, string image, RbdSnapshot snapshot, StepRunner steps)
    {
        if (snapshot.Protected)
            steps.Tool(pool.Tools.UnprotectSnapshot(image, snapshot.Name));
        steps.Tool(pool.Tools.RemoveSnapshot(image, snapshot.Name));
    }

    /// <summary>
    /// An image no filesystem of this host has mounted may still be open by another client (a VM, another host):
    /// its writes cannot be paused from here, so the snapshot is refused unless the operator allows it.
    /// </summary>
    internal IReadOnlyList<string> ElsewhereOpen(SparseVolume volume, CephPool pool, string image, bool allowed, string copy, ref WriteConsistency consistency,
        IReadOnlyList<string>? knownWatchers = null)
    {
        var watchers = knownWatchers ?? Watchers(pool, image);
        if (watchers.Count == 0)
            return [];
        var holders = $"open by {string.Join(", ", watchers)} (RBD watchers)";
        if (!allowed)
            throw new VolumeInUseException(
                $"Volume '{volume.Name}' is {holders} and its writes cannot be paused from this host; close it there, " +
                $"or use {UnpausedWrites.AllowSwitch} to go on anyway ({copy} may then hold a filesystem that needs a check).", volume.Path);
        consistency = WriteConsistency.Unfrozen;
        return [$"Volume '{volume.Name}' is {holders} and its writes cannot be paused; {copy} may hold a filesystem that needs a check."];
    }

    private void RequireClosed(SparseVolume volume, CephPool pool, string image, string what)
    {
        if (FuseExportRecord.Read(context.Runtime.FuseExports, volume.Path) is not null || context.ReadAttachments().Of(volume.Path).IsAttached)
            throw new VolumeInUseException($"Volume '{volume.Name}' cannot be {what}: it is exported or mounted on this host. Dismount it first.", volume.Path);
        var watchers = Watchers(pool, image);
        if (watchers.Count > 0)
            throw new VolumeInUseException(
                $"Volume '{volume.Name}' cannot be {what}: it is open by {string.Join(", ", watchers)} (RBD watchers). Close it there first.", volume.Path);
    }

    private IReadOnlyList<string> Watchers(CephPool pool, string image) =>
        CephListing.Watchers(context.Runner.RunChecked(pool.Tools.Status(image)).StandardOutput);

    private IReadOnlyList<RbdSnapshot> Read(CephPool pool, string image) =>
        RbdSnapshotCommands.Snapshots(context.Runner.RunChecked(pool.Tools.ListSnapshots(image)).StandardOutput);

    private VolumeSnapshot Find(SparseVolume volume, CephPool pool, string image, string name) =>
        Read(pool, image).Where(s => s.Name == name).Select(s => ToSnapshot(volume, s)).FirstOrDefault()
        ?? throw new SnapshotNotFoundException($"Snapshot '{name}' of volume '{volume.Name}' is gone right after it was taken.", name);

    private static VolumeSnapshot ToSnapshot(SparseVolume volume, RbdSnapshot snapshot) =>
        VolumeSnapshot.Of(volume, snapshot.Name, snapshot.Id, SnapshotKind.RbdSnapshot, snapshot.CreatedUtc, snapshot.SizeBytes);

    private (CephPool Pool, string Image) Resolve(string volumePath)
    {
        foreach (var definition in context.Pools.Definitions().Where(d => d.IsCeph))
            if (definition.Ceph!.ImageOf(volumePath) is { } image)
                return (new CephPool(context.Runner, definition), image);
        throw new PathOutsidePoolException($"'{volumePath}' names no image of a registered Ceph pool.", volumePath);
    }
}
