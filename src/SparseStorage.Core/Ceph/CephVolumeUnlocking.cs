using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Host;
using SparseStorage.Core.Leftovers;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// Opens and closes the plaintext of an encrypted Ceph volume. One qemu-storage-daemon opens the image with qemu's rbd
/// driver, stacks qemu's luks driver on it, and exports the plaintext over FUSE; the Ceph key and the passphrase reach
/// it as secret files on tmpfs, removed once it runs. Opened read-write, the volume holds this host's mount lock, as a
/// read-write mount does, so a second host can neither unlock nor mount it; locking releases the lock.
/// </summary>
public sealed class CephVolumeUnlocking(StorageContext context)
    : IPlannedOperation<UnlockVolumeRequest, UnlockVolumePlan, SparseVolume>, IPlannedOperation<LockVolumeRequest, LockVolumePlan, SparseVolume>
{
    private readonly CephEncryptedImage images = new(context);
    private readonly LoopDeviceManager loops = new(context.Runner);
    private readonly FuseExporter exporter = context.FuseExporter();

    public static bool Handles(SparseVolume volume) => CephPoolSettings.IsRbdPath(volume.Path);

    /// <summary>Checks the volume, that no host writes it, and finds the key that opens it (one key derivation per key tried); changes nothing.</summary>
    public UnlockVolumePlan Plan(UnlockVolumeRequest request)
    {
        var (volume, header) = Check(request.Volume.Path);
        if (volume.IsUnlocked)
            return new UnlockVolumePlan { Volume = volume, IsAlreadyUnlocked = true };
        CephEncryptedImage.RequireUsableKeys(volume, request.Keys);
        var (_, settings, image) = images.Resolve(volume.Path);
        if (!request.Options.ReadOnly)
            CephEncryptedImage.RequireNoWriter(context, settings, image, volume, "unlocking it here");
        var plan = new UnlockVolumePlan
        {
            Volume = volume,
            Header = header,
            OpeningKey = images.KeyThatOpens(settings, image, header, request.Keys, CancellationToken.None),
            Options = request.Options,
        };
        return plan with { Steps = StepsOf(plan) };
    }

    /// <summary>Takes this host's mount lock (read-write) and starts the decrypting export with the key the plan found.</summary>
    public SparseVolume Apply(UnlockVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Unlocking a volume");
        new LeftoverSweeper(context).Sweep(); // a daemon left by a killed unlock of this volume would pass for unlocked
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var (current, _) = Check(plan.Volume.Path);
        PlanAssumption.Require(current.IsUnlocked == plan.IsAlreadyUnlocked, current, current.IsUnlocked ? "it was unlocked meanwhile" : "it was locked meanwhile");
        if (plan.IsAlreadyUnlocked)
            return current;
        var (_, settings, image) = images.Resolve(current.Path);
        if (!plan.Options.ReadOnly)
            CephEncryptedImage.RequireNoWriter(context, settings, image, current, "unlocking it here");
        PlanRecheck.RequireSameSteps(plan, plan with { Steps = StepsOf(plan) });
        Open(plan, settings, image, StepRunner.ForApply(context, progress, $"Unlocking {current.Name}", cancellationToken));
        return new VolumeCatalog(context).Get(current.Path);
    }

    private List<string> StepsOf(UnlockVolumePlan plan)
    {
        var (_, settings, image) = images.Resolve(plan.Volume.Path);
        var dryRun = StepRunner.ForPlan(context);
        Open(plan, settings, image, dryRun);
        return dryRun.Steps.ToList();
    }

    private void Open(UnlockVolumePlan plan, CephPoolSettings settings, string image, StepRunner steps)
    {
        var holder = RbdMountLock.HolderOf(context.Runtime);
        if (!plan.Options.ReadOnly)
            steps.Tool(RbdMountLock.Add(settings, image, holder));
        var export = new RbdExport(context, settings, image, plan.Options.ReadOnly) { Decrypts = true, Key = plan.OpeningKey, AllowDiscards = plan.Options.AllowDiscards };
        try
        {
            export.Start(steps);
        }
        catch when (!steps.DryRun && !plan.Options.ReadOnly)
        {
            ReleaseOwnLock(settings, image);
            throw;
        }
        if (!steps.DryRun)
            exporter.Release(plan.Volume.Path);
    }

    /// <summary>Plans closing the plaintext: unmounting (only with Dismount or LazyUnmount), detaching the loop device, stopping the daemon, releasing this host's lock.</summary>
    public LockVolumePlan Plan(LockVolumeRequest request)
    {
        var (volume, _) = Check(request.Volume.Path, allowBroken: true);
        var dryRun = StepRunner.ForPlan(context);
        Close(volume, OwnLock(volume.Path), request, dryRun);
        return new LockVolumePlan { Volume = volume, Request = request, Steps = dryRun.Steps };
    }

    public SparseVolume Apply(LockVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Locking a volume");
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var (current, _) = Check(plan.Volume.Path, allowBroken: true);
        var ownLock = OwnLock(current.Path);
        var now = StepRunner.ForPlan(context);
        Close(current, ownLock, plan.Request, now);
        PlanAssumption.Require(now.Steps.SequenceEqual(plan.Steps), current, "its mounts, loop device, daemon or lock are not the planned ones");
        Close(current, ownLock, plan.Request, StepRunner.ForApply(context, progress, $"Locking {current.Name}", cancellationToken));
        return new VolumeCatalog(context).Get(current.Path);
    }

    private void Close(SparseVolume volume, RbdLock? ownLock, LockVolumeRequest request, StepRunner steps)
    {
        var attachment = context.ReadAttachments().Of(volume.Path);
        var lazily = request.LazyUnmount || volume.IsBroken;
        if (attachment.IsMounted && !request.Dismount && !lazily)
            throw new VolumeInUseException($"Volume '{volume.Name}' is mounted at {string.Join(", ", attachment.MountPoints)}; use Lock-Volume -Dismount to unmount it first.", volume);
        foreach (var mountPoint in attachment.MountPoints)
            steps.Tool(lazily ? new ToolCommand("umount", "--lazy", mountPoint) : Mounter.UnmountCommand(mountPoint));
        if (attachment.LoopDevice is { } loop)
            steps.Do(LoopDeviceManager.DetachCommand(loop).ToString(), () => loops.Detach(loop, steps.Cancellation));
        if (attachment.FuseExport is { } export)
            steps.Do(FuseExporter.StopStep(export), () => exporter.Stop(export, steps.Cancellation));
        if (ownLock is not null)
        {
            var (_, settings, image) = images.Resolve(volume.Path);
            steps.Tool(RbdMountLock.Remove(settings, image, ownLock));
        }
    }

    private (SparseVolume Volume, ContainerHeader Header) Check(string volumePath, bool allowBroken = false)
    {
        var volume = images.Volume(volumePath);
        var header = images.RequireEncrypted(volume);
        if (volume.IsBroken && !allowBroken)
            throw new StorageOperationException("VolumeBroken", $"The qemu-storage-daemon of '{volume.Name}' is gone; run Lock-Volume to clean up first.", volume);
        return (volume, header);
    }

    /// <summary>This host's mount lock on the image, or null.</summary>
    private RbdLock? OwnLock(string volumePath)
    {
        var (_, settings, image) = images.Resolve(volumePath);
        var description = RbdMountLock.DescriptionFor(RbdMountLock.HolderOf(context.Runtime));
        return RbdMountLock.Locks(context.Runner, settings, image).FirstOrDefault(l => l.Description == description);
    }

    private void ReleaseOwnLock(CephPoolSettings settings, string image)
    {
        var description = RbdMountLock.DescriptionFor(RbdMountLock.HolderOf(context.Runtime));
        if (RbdMountLock.Locks(context.Runner, settings, image).FirstOrDefault(l => l.Description == description) is { } taken)
            context.Runner.RunChecked(RbdMountLock.Remove(settings, image, taken), CancellationToken.None);
    }
}
