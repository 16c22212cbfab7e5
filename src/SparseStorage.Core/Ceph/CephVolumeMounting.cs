using System.Text.RegularExpressions;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Host;
using SparseStorage.Core.Leftovers;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// What Mount-SparseVolume was asked for on a Ceph volume; <paramref name="BreakLockOf"/>: the dead host whose lock to
/// break; <paramref name="Keys"/>: the keys to try on an encrypted volume that is locked (the mount unlocks it, and its
/// dismount locks it again); <paramref name="AllowDiscards"/>: trims reach an encrypted image.
/// </summary>
public sealed record MountCephVolumeRequest(SparseVolume Volume, string MountPoint, bool ReadOnly = false, string? BreakLockOf = null,
    IReadOnlyList<Encryption.VolumeKey>? Keys = null, bool AllowDiscards = false);

/// <summary>
/// A checked mount of an RBD image: the mount point, this host's lock (read-write only), and, to take over from a dead
/// host, the lock broken and that host's clients fenced first. The loop device is known only once attached.
/// </summary>
public sealed record MountCephVolumePlan(SparseVolume Volume, string Image, string MountPoint, bool ReadOnly, string Holder, IReadOnlyList<string> PlannedSteps) : OperationPlan
{
    public override string Target => Volume.Path;
    public override string Action => "Mount volume";
    public override IReadOnlyList<string> Steps => PlannedSteps;
    public bool CreatesMountPoint { get; init; }

    /// <summary>The dead host's lock this mount breaks, or null.</summary>
    public RbdLock? BrokenLock { get; init; }

    /// <summary>The dead host's clients this mount fences (blocklists) before breaking its lock.</summary>
    public IReadOnlyList<string> Fenced { get; init; } = [];

    /// <summary>An encrypted volume already unlocked on this host: the mount attaches its plaintext export (its lock is the unlock's).</summary>
    public bool MountsUnlockedPlaintext { get; init; }

    /// <summary>Whether this mount unlocks an encrypted volume (and so needs a key).</summary>
    public bool NeedsKey => Volume.Encryption != "None" && !MountsUnlockedPlaintext;

    internal Encryption.VolumeKey? OpeningKey { get; init; }
    internal bool AllowDiscards { get; init; }
}

/// <summary>A checked dismount of an RBD image: unmount, detach the loop device, stop the daemon, release this host's lock.</summary>
public sealed record DismountCephVolumePlan(SparseVolume Volume, IReadOnlyList<string> PlannedSteps) : OperationPlan
{
    public override string Target => Volume.Path;
    public override string Action => "Dismount volume";
    public override IReadOnlyList<string> Steps => PlannedSteps;
    internal VolumeAttachment Attachment { get; init; } = VolumeAttachment.Detached;
    internal RbdLock? OwnLock { get; init; }
}

/// <summary>
/// Mounts a Ceph volume without the kernel's rbd module: qemu-storage-daemon opens the image with qemu's rbd driver
/// and exports it over FUSE, a loop device makes that a block device, and the filesystem is mounted from it. A
/// read-write mount first takes this host's mount lock (<see cref="RbdMountLock"/>), so a second host is refused with
/// the holder named. Each step is undone in reverse order if a later one fails.
/// </summary>
public sealed partial class CephVolumeMounting(StorageContext context)
    : IPlannedOperation<MountCephVolumeRequest, MountCephVolumePlan, SparseVolume>, IPlannedOperation<DismountVolumeRequest, DismountCephVolumePlan, SparseVolume>
{
    private readonly LoopDeviceManager loops = new(context.Runner);
    private readonly Mounter mounter = new(context.Runner);
    private readonly FuseExporter exporter = context.FuseExporter();

    public static bool Handles(SparseVolume volume) => CephPoolSettings.IsRbdPath(volume.Path);

    public MountCephVolumePlan Plan(MountCephVolumeRequest request)
    {
        context.RequireRoot("Mounting a volume");
        var (settings, image) = Resolve(request.Volume.Path);
        var current = new VolumeCatalog(context).Get(request.Volume.Path);
        var encrypted = current.Encryption != "None";
        var unlocked = encrypted && current.IsUnlocked && !current.IsMounted && current.LoopDevice is null && !current.IsBroken;
        if (unlocked && current.IsReadOnly && !request.ReadOnly)
            throw new VolumeInUseException($"Volume '{current.Name}' is unlocked read-only on this host; mount it with -ReadOnly, or lock it and unlock it read-write.", current);
        if (current.IsAttached && !unlocked)
            throw new VolumeInUseException($"Volume '{current.Name}' is already {(current.IsMounted ? $"mounted at {current.MountPoint}" : $"attached ({current.LoopDevice ?? "FUSE export"})")} on this host; dismount it first.", current);
        if ((!encrypted || unlocked) && current.FileSystem is FileSystemType.None or FileSystemType.Swap)
            throw new StorageOperationException("NoMountableFileSystem",
                $"Volume '{current.Name}' has {(current.FileSystem == FileSystemType.Swap ? "swap space" : "no filesystem")}; nothing to mount. Create one with New-SparseVolume -FileSystem.", current);
        var tools = new CephTools(settings);
        var holder = RbdMountLock.HolderOf(context.Runtime);
        var locks = RbdMountLock.Locks(context.Runner, settings, image);
        var broken = request.BreakLockOf is { } dead ? LockToBreak(current, locks, dead) : null;
        if (locks.FirstOrDefault(l => l != broken && !(unlocked && l.Description == RbdMountLock.DescriptionFor(holder))) is { } held)
            throw new VolumeInUseException(
                $"Volume '{current.Name}' is mounted read-write by {held.Describe()}; only one host may write it. Dismount it there, or, if that host is dead, " +
                $"fence it and break its lock: Mount-SparseVolume -BreakLockOf '{held.Holder}'.", current);
        var fenced = broken is null ? [] : FencedClients(RbdMountLock.Watchers(context.Runner, tools, image), broken);
        Encryption.VolumeKey? openingKey = null;
        if (encrypted && !unlocked)
        {
            var keys = request.Keys ?? [];
            CephEncryptedImage.RequireUsableKeys(current, keys);
            var encryptedImage = new CephEncryptedImage(context);
            openingKey = encryptedImage.KeyThatOpens(settings, image, encryptedImage.RequireEncrypted(current), keys, CancellationToken.None);
        }
        var mountPoint = MountPointRules.Check(request.MountPoint);
        var plan = new MountCephVolumePlan(current, image, mountPoint.Path, request.ReadOnly, holder, [])
        {
            CreatesMountPoint = mountPoint.Missing,
            BrokenLock = broken,
            Fenced = fenced,
            MountsUnlockedPlaintext = unlocked,
            OpeningKey = openingKey,
            AllowDiscards = request.AllowDiscards,
        };
        var dryRun = StepRunner.ForPlan(context);
        RunMount(plan, settings, dryRun);
        return plan with { PlannedSteps = dryRun.Steps.ToList() };
    }

    public SparseVolume Apply(MountCephVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Mounting a volume");
        new LeftoverSweeper(context).Sweep(); // a daemon left by a killed mount of this volume would pass for its export
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        PlanRecheck.RequireSameSteps(plan, Plan(new MountCephVolumeRequest(plan.Volume, plan.MountPoint, plan.ReadOnly, plan.BrokenLock?.Holder,
            plan.OpeningKey is null ? null : [plan.OpeningKey], plan.AllowDiscards)));
        var (settings, _) = Resolve(plan.Volume.Path);
        RunMount(plan, settings, StepRunner.ForApply(context, progress, $"Mounting {plan.Volume.Name}", cancellationToken));
        return new VolumeCatalog(context).Get(plan.Volume.Path);
    }

    /// <summary>The lock of the host named to be broken; it must be there, so that a lock is broken only when its holder was named.</summary>
    private static RbdLock LockToBreak(SparseVolume volume, IReadOnlyList<RbdLock> locks, string holder) =>
        locks.FirstOrDefault(l => l.Holder == holder)
        ?? throw new StorageObjectNotFoundException("LockHolderNotFound",
            $"Volume '{volume.Name}' has no lock of '{holder}' to break; {(locks.Count == 0 ? "it has no lock at all" : "it is held by " + string.Join(", ", locks.Select(l => l.Describe())))}.", holder);

    /// <summary>The dead host's clients: the image's watchers on the address its lock was taken from (its daemon's client instances).</summary>
    private static List<string> FencedClients(IReadOnlyList<string> watchers, RbdLock broken)
    {
        var host = HostOf(broken.Address);
        return watchers.Where(w => HostOf(w) == host).Distinct().ToList();
    }

    /// <summary>"v1:198.18.0.1:0/123" → "198.18.0.1".</summary>
    private static string HostOf(string address)
    {
        var bare = address.StartsWith("v1:", StringComparison.Ordinal) || address.StartsWith("v2:", StringComparison.Ordinal) ? address[3..] : address;
        var colon = bare.LastIndexOf(':');
        return colon < 0 ? bare : bare[..colon];
    }

    private void RunMount(MountCephVolumePlan plan, CephPoolSettings settings, StepRunner steps)
    {
        var tools = new CephTools(settings);
        var undo = new Stack<Action>();
        try
        {
            if (plan.CreatesMountPoint)
            {
                steps.Do($"create directory {plan.MountPoint}", () => Directory.CreateDirectory(plan.MountPoint));
                undo.Push(() => Directory.Delete(plan.MountPoint));
            }
            foreach (var address in plan.Fenced)
                steps.Tool(RbdMountLock.Blocklist(tools, address));
            if (plan.BrokenLock is { } broken)
                steps.Tool(RbdMountLock.Remove(settings, plan.Image, broken));
            var export = new RbdExport(context, settings, plan.Image, plan.ReadOnly)
            {
                Decrypts = plan.Volume.Encryption != "None",
                Key = plan.OpeningKey,
                AllowDiscards = plan.AllowDiscards,
                LockWithDismount = true,
            };
            if (!plan.MountsUnlockedPlaintext)
            {
                if (!plan.ReadOnly)
                    TakeLock(plan, settings, steps, undo);
                if (export.Start(steps) is { } record)
                    undo.Push(() => exporter.Stop(record, CancellationToken.None));
            }
            var device = Attach(export.ExportPath, plan, steps, undo);
            steps.Do(Display(Mounter.MountCommand(device, plan.MountPoint, plan.Volume.FileSystem, plan.ReadOnly)),
                () => mounter.Mount(device, plan.MountPoint, plan.Volume.FileSystem, plan.ReadOnly, steps.Cancellation));
            if (!steps.DryRun)
                exporter.Release(plan.Volume.Path);
        }
        catch when (!steps.DryRun)
        {
            Undo(undo);
            throw;
        }
    }

    private void TakeLock(MountCephVolumePlan plan, CephPoolSettings settings, StepRunner steps, Stack<Action> undo)
    {
        var description = RbdMountLock.DescriptionFor(plan.Holder);
        steps.Tool(RbdMountLock.Add(settings, plan.Image, plan.Holder));
        if (steps.DryRun)
            return;
        undo.Push(() =>
        {
            if (RbdMountLock.Locks(context.Runner, settings, plan.Image).FirstOrDefault(l => l.Description == description) is { } taken)
                context.Runner.RunChecked(RbdMountLock.Remove(settings, plan.Image, taken), CancellationToken.None);
        });
    }

    private string Attach(string file, MountCephVolumePlan plan, StepRunner steps, Stack<Action> undo)
    {
        var device = OperationPlan.Measured("loop device");
        steps.Do(LoopDeviceManager.AttachCommand(file, plan.ReadOnly).ToString(), () =>
        {
            device = loops.AttachVolume(file, plan.Volume.Path, plan.ReadOnly, steps.Cancellation);
            var attached = device;
            undo.Push(() => loops.Detach(attached, CancellationToken.None));
            exporter.RecordLoop(plan.Volume.Path, attached);
        });
        return device;
    }

    /// <summary>What a dismount would do; no steps when the volume is neither mounted, attached nor locked by this host.</summary>
    public DismountCephVolumePlan Plan(DismountVolumeRequest request)
    {
        var (settings, image) = Resolve(request.Volume.Path);
        RequireNotExportedOverAoe(request.Volume);
        var attachment = context.ReadAttachments().Of(request.Volume.Path);
        var description = RbdMountLock.DescriptionFor(RbdMountLock.HolderOf(context.Runtime));
        var ownLock = RbdMountLock.Locks(context.Runner, settings, image).FirstOrDefault(l => l.Description == description);
        var plan = new DismountCephVolumePlan(request.Volume, []) { Attachment = attachment, OwnLock = ownLock };
        var dryRun = StepRunner.ForPlan(context);
        RunDismount(plan, settings, image, dryRun);
        if (dryRun.Steps.Count > 0)
            context.RequireRoot("Dismounting a volume");
        return plan with { PlannedSteps = dryRun.Steps.ToList() };
    }

    /// <summary>An AoE export serves the image through the daemon a dismount would stop; Stop-AtaoeExport takes both down.</summary>
    private void RequireNotExportedOverAoe(SparseVolume volume)
    {
        var exports = new Aoe.AtaoeExportService(context).List().Where(e => e.VolumePath == volume.Path).Select(e => $"{e.Target} on {e.Interface}").ToList();
        if (exports.Count > 0)
            throw new VolumeInUseException($"Volume '{volume.Name}' is exported over AoE as {string.Join(", ", exports)}; stop the export (Stop-AtaoeExport), which also stops its daemon and releases its lock.", volume.Path);
    }

    /// <summary>Unmounts, detaches the loop device, stops the daemon and releases this host's lock, as planned.</summary>
    public SparseVolume Apply(DismountCephVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (plan.Steps.Count == 0)
            return new VolumeCatalog(context).Get(plan.Volume.Path);
        context.RequireRoot("Dismounting a volume");
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        PlanRecheck.RequireSameSteps(plan, Plan(new DismountVolumeRequest(plan.Volume)));
        var (settings, image) = Resolve(plan.Volume.Path);
        RunDismount(plan, settings, image, StepRunner.ForApply(context, progress, $"Dismounting {plan.Volume.Name}", cancellationToken));
        return new VolumeCatalog(context).Get(plan.Volume.Path);
    }

    private void RunDismount(DismountCephVolumePlan plan, CephPoolSettings settings, string image, StepRunner steps)
    {
        var attachment = plan.Attachment;
        foreach (var mountPoint in attachment.MountPoints)
            steps.Tool(Mounter.UnmountCommand(mountPoint));
        if (attachment.LoopDevice is { } loop)
            steps.Do(LoopDeviceManager.DetachCommand(loop).ToString(), () => loops.Detach(loop, steps.Cancellation));
        // A volume unlocked by Unlock-Volume stays unlocked (and locked to this host) until Lock-Volume.
        if (attachment.FuseExport is { Decrypting: true, LockWithDismount: false })
            return;
        if (attachment.FuseExport is { } export)
            steps.Do(FuseExporter.StopStep(export), () => exporter.Stop(export, steps.Cancellation));
        if (plan.OwnLock is { } own)
            steps.Tool(RbdMountLock.Remove(settings, image, own));
    }

    private (CephPoolSettings Settings, string Image) Resolve(string volumePath)
    {
        foreach (var definition in context.Pools.Definitions().Where(d => d.IsCeph))
            if (definition.Ceph!.ImageOf(volumePath) is { } image)
                return (definition.Ceph, image);
        throw new PathOutsidePoolException($"'{volumePath}' names no image of a registered Ceph pool; register its pool with Register-StoragePool -CephPool.", volumePath);
    }

    /// <summary>A command line as a step shows it: a value known only while running (&lt;loop device&gt;) is not quoted.</summary>
    private static string Display(ToolCommand command) => Placeholder().Replace(command.ToString(), "$1");

    [GeneratedRegex(@"'(<[^<>']*>)'")]
    private static partial Regex Placeholder();

    private static void Undo(Stack<Action> undo)
    {
        while (undo.TryPop(out var step))
        {
            try
            {
                step();
            }
            catch (Exception e) when (e is SparseStorageException or IOException)
            {
                // Keep undoing; the original failure is the one reported.
            }
        }
    }
}
