using System.Globalization;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Host;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Snapshots;

public sealed class SnapshotNotFoundException(string message, object? target = null)
    : SparseStorageException("SnapshotNotFound", StorageErrorKind.ObjectNotFound, message, target);

/// <summary>
/// Snapshots of volumes: qcow2 internal snapshots, for raw volumes reflink or sparse copies in the pool's
/// hidden .snapshots folder, and for volumes of Ceph pools RBD snapshots (<see cref="CephSnapshots"/>). A mounted volume's filesystem is frozen while the snapshot is taken. Each change is
/// planned first (its steps found by a dry run of the same code) and applied under the volume's lock.
/// </summary>
public sealed class SnapshotService(StorageContext context)
    : IPlannedOperation<NewSnapshotRequest, NewSnapshotPlan, VolumeSnapshot>,
      IPlannedOperation<RestoreSnapshotRequest, RestoreSnapshotPlan, SparseVolume>,
      IPlannedOperation<RemoveSnapshotRequest, RemoveSnapshotPlan, VolumeSnapshot>
{
    /// <summary>A name for a snapshot taken without one: its UTC time, sortable.</summary>
    public static string DefaultName(DateTime utcNow) => utcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);

    /// <summary>Volume name rules, and not digits only: qemu-img looks a snapshot up by id or name, and ids are digits.</summary>
    public static string RequireValidName(string name)
    {
        Names.RequireValid(name, "Snapshot");
        return name.All(char.IsAsciiDigit)
            ? throw new InvalidStorageArgumentException("InvalidSnapshotName", $"'{name}' is not a valid snapshot name: digits only would be mistaken for a qcow2 snapshot id; add a letter.", name)
            : name;
    }

    public IReadOnlyList<VolumeSnapshot> List(SparseVolume volume) =>
        IsCeph(volume) ? new CephSnapshots(context).List(volume)
        : (volume.Format == VolumeFormat.Qcow2 ? Qcow2InternalSnapshots.List(volume) : RawSnapshotStore.List(volume)).ToList();

    /// <summary>Snapshots whose names match any pattern; a pattern without wildcards that matches nothing goes to <paramref name="onMissing"/> (thrown when null).</summary>
    public IEnumerable<VolumeSnapshot> Get(SparseVolume volume, IReadOnlyList<string> namePatterns, Action<SnapshotNotFoundException>? onMissing = null)
    {
        var patterns = namePatterns.Count == 0 ? [new NamePattern("*")] : namePatterns.Select(p => new NamePattern(p)).ToList();
        var snapshots = List(volume);
        foreach (var snapshot in snapshots.Where(s => patterns.Any(p => p.IsMatch(s.Name))))
            yield return snapshot;
        foreach (var missing in patterns.Where(p => !p.HasWildcards && !snapshots.Any(s => p.IsMatch(s.Name))))
        {
            var error = NotFound(volume, missing.Text, snapshots);
            if (onMissing is null)
                throw error;
            onMissing(error);
        }
    }

    /// <summary>The snapshot with this name: an exact match, else the only one whose name differs in case alone.</summary>
    public VolumeSnapshot Find(SparseVolume volume, string name) => Pick(volume, List(volume), name);

    internal static VolumeSnapshot Pick(SparseVolume volume, IReadOnlyList<VolumeSnapshot> snapshots, string name)
    {
        var ignoringCase = snapshots.Where(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)).ToList();
        return snapshots.FirstOrDefault(s => s.Name == name)
               ?? (ignoringCase.Count == 1 ? ignoringCase[0] : throw NotFound(volume, name, snapshots));
    }

    public NewSnapshotPlan Plan(NewSnapshotRequest request)
    {
        if (IsCeph(request.Volume))
            return new CephSnapshots(context).Plan(request);
        var (volume, name) = (request.Volume, RequireValidName(request.Name));
        if (List(volume).Any(s => s.Name == name))
            throw new ResourceExistsException("SnapshotExists", $"Volume '{volume.Name}' already has a snapshot named '{name}'; choose another name or remove it first.", name);
        if (volume.Format == VolumeFormat.Qcow2)
            new BackingChains(context).RequireNoDependants(volume, "snapshotted (an internal snapshot rewrites its metadata)");
        var attachment = context.ReadAttachments().Of(volume.Path);
        var consistency = FileSystemFreeze.Assess(volume, attachment);
        var warnings = UnpausedWrites.Check(volume, attachment, consistency, request.AllowUnpausedWrites, $"snapshot '{name}'", "snapshot it");
        if (consistency == WriteConsistency.Frozen)
            context.RequireRoot($"Freezing {attachment.MountPoints[0]} to snapshot it");
        var plan = new NewSnapshotPlan(volume, name, consistency) { AllowUnpausedWrites = request.AllowUnpausedWrites, Warnings = warnings };
        var steps = StepRunner.ForPlan(context);
        Create(plan, attachment, steps, null);
        return plan with { Steps = steps.Steps };
    }

    /// <summary>Takes the snapshot the plan describes, under the volume's lock, after planning it again to see that nothing it assumed changed.</summary>
    public VolumeSnapshot Apply(NewSnapshotPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (IsCeph(plan.Volume))
            return new CephSnapshots(context).Apply(plan, progress, cancellationToken);
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var current = Plan(new NewSnapshotRequest(new VolumeCatalog(context).Get(plan.Volume.Path), plan.Name) { AllowUnpausedWrites = plan.AllowUnpausedWrites });
        RequireUnchanged(plan, current, current.Consistency == plan.Consistency);
        var steps = StepRunner.ForApply(context, progress, $"Snapshotting {current.Volume.Name}", cancellationToken);
        return Create(current, context.ReadAttachments().Of(current.Volume.Path), steps, progress) ?? Find(current.Volume, current.Name);
    }

    public RestoreSnapshotPlan Plan(RestoreSnapshotRequest request)
    {
        if (IsCeph(request.Volume))
            return new CephSnapshots(context).Plan(request);
        var volume = request.Volume;
        var snapshot = Find(volume, request.Name);
        var attachment = context.ReadAttachments().Of(volume.Path);
        if (attachment.IsAttached)
            throw new VolumeInUseException($"Volume '{volume.Name}' cannot be restored to snapshot '{snapshot.Name}': it is {attachment.Describe()}. Dismount it first.", volume.Path);
        new BackingChains(context).RequireNoDependants(volume, "restored");
        var steps = StepRunner.ForPlan(context);
        Restore(volume, snapshot, steps, null);
        return new RestoreSnapshotPlan(volume, snapshot) { Impact = PlanImpact.High, Steps = steps.Steps };
    }

    /// <summary>Brings the volume back to the snapshot; the current state is lost. Refused while the volume is in use or is a base image.</summary>
    public SparseVolume Apply(RestoreSnapshotPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (IsCeph(plan.Volume))
            return new CephSnapshots(context).Apply(plan, progress, cancellationToken);
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var current = Plan(new RestoreSnapshotRequest(new VolumeCatalog(context).Get(plan.Volume.Path), plan.Snapshot.Name));
        RequireUnchanged(plan, current, SameSnapshot(plan.Snapshot, current.Snapshot));
        Restore(current.Volume, current.Snapshot, StepRunner.ForApply(context, progress, $"Restoring {current.Volume.Name}", cancellationToken), progress);
        return new VolumeCatalog(context).Get(current.Volume.Path);
    }

    public RemoveSnapshotPlan Plan(RemoveSnapshotRequest request)
    {
        if (IsCeph(request.Volume))
            return new CephSnapshots(context).Plan(request);
        var snapshot = Find(request.Volume, request.Name);
        var steps = StepRunner.ForPlan(context);
        Remove(request.Volume, snapshot, steps);
        return new RemoveSnapshotPlan(request.Volume, snapshot) { Impact = PlanImpact.High, Steps = steps.Steps };
    }

    public VolumeSnapshot Apply(RemoveSnapshotPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (IsCeph(plan.Volume))
            return new CephSnapshots(context).Apply(plan, progress, cancellationToken);
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var current = Plan(new RemoveSnapshotRequest(new VolumeCatalog(context).Get(plan.Volume.Path), plan.Snapshot.Name));
        RequireUnchanged(plan, current, SameSnapshot(plan.Snapshot, current.Snapshot));
        Remove(current.Volume, current.Snapshot, StepRunner.ForApply(context, progress, $"Removing snapshot {current.Snapshot}", cancellationToken));
        return current.Snapshot;
    }

    /// <summary>Plans and takes a snapshot in one call, for callers that confirm nothing.</summary>
    public VolumeSnapshot Create(SparseVolume volume, string name, bool allowUnpausedWrites = false, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Apply(Plan(new NewSnapshotRequest(volume, name) { AllowUnpausedWrites = allowUnpausedWrites }), progress, cancellationToken);

    /// <summary>Plans and applies a restore in one call, for callers that confirm nothing.</summary>
    public SparseVolume Restore(VolumeSnapshot snapshot, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Apply(Plan(new RestoreSnapshotRequest(new VolumeCatalog(context).Get(snapshot.VolumePath), snapshot.Name)), progress, cancellationToken);

    /// <summary>Plans and applies a removal in one call, for callers that confirm nothing.</summary>
    public void Remove(VolumeSnapshot snapshot, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Apply(Plan(new RemoveSnapshotRequest(new VolumeCatalog(context).Get(snapshot.VolumePath), snapshot.Name)), progress, cancellationToken);

    private static VolumeSnapshot? Create(NewSnapshotPlan plan, VolumeAttachment attachment, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        VolumeSnapshot? created = null;
        UnpausedWrites.PausedAround(steps, plan.Consistency, attachment, () =>
        {
            if (plan.Volume.Format == VolumeFormat.Qcow2)
                Qcow2InternalSnapshots.Create(plan.Volume, attachment, plan.Name, steps);
            else
                created = RawSnapshotStore.Create(plan.Volume, plan.Name, steps, progress);
        });
        return created;
    }

    private static void Restore(SparseVolume volume, VolumeSnapshot snapshot, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        if (volume.Format == VolumeFormat.Qcow2)
            Qcow2InternalSnapshots.Apply(snapshot, steps);
        else
            RawSnapshotStore.Restore(snapshot, steps, progress);
    }

    private void Remove(SparseVolume volume, VolumeSnapshot snapshot, StepRunner steps)
    {
        if (volume.Format == VolumeFormat.Qcow2)
            Qcow2InternalSnapshots.Delete(snapshot, context.ReadAttachments().Of(volume.Path), steps);
        else
            RawSnapshotStore.Remove(snapshot, steps);
    }

    internal static bool SameSnapshot(VolumeSnapshot planned, VolumeSnapshot now) =>
        planned.Id == now.Id && planned.Name == now.Name && planned.CreatedUtc == now.CreatedUtc;

    /// <summary>Apply runs only the plan that was confirmed: the same steps, planned again under the lock, on the same snapshot.</summary>
    internal static void RequireUnchanged(Planning.OperationPlan planned, Planning.OperationPlan now, bool sameState)
    {
        if (!sameState || !planned.Steps.SequenceEqual(now.Steps))
            throw new StorageOperationException("ChangedSincePlanned",
                $"{planned.Target} changed after the plan was made ({planned.Describe()}); now it would be: {now.Describe()}. Nothing was changed; run the command again.", planned.Target);
    }

    private static bool IsCeph(SparseVolume volume) => CephPoolSettings.IsRbdPath(volume.Path);

    private static SnapshotNotFoundException NotFound(SparseVolume volume, string name, IReadOnlyList<VolumeSnapshot> snapshots) =>
        new($"Volume '{volume.Name}' has no snapshot named '{name}'" +
            (snapshots.Count == 0 ? "; it has no snapshots." : $"; its snapshots are: {string.Join(", ", snapshots.Select(s => s.Name))}."), name);
}
