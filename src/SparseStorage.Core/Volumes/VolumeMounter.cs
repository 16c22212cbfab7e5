using System.Text.RegularExpressions;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Host;
using SparseStorage.Core.Leftovers;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Mounts a volume (raw: loop device; qcow2: qemu-storage-daemon FUSE export, then a loop device; encrypted: its
/// unlocked plaintext, unlocking it first when keys are given) and takes it down again. Each step is undone in reverse
/// order if a later one fails, so a failed mount leaves no loop device, daemon or created mount point behind.
/// </summary>
public sealed partial class VolumeMounter(StorageContext context)
    : IPlannedOperation<MountVolumeRequest, MountVolumePlan, SparseVolume>, IPlannedOperation<DismountVolumeRequest, DismountVolumePlan, SparseVolume>
{
    private readonly LoopDeviceManager loops = new(context.Runner);
    private readonly Mounter mounter = new(context.Runner);
    private readonly FuseExporter exporter = context.FuseExporter();

    /// <summary>Checks that the volume can be mounted there and lists the steps; a locked volume's filesystem shows as found once unlocked.</summary>
    public MountVolumePlan Plan(MountVolumeRequest request)
    {
        context.RequireRoot("Mounting a volume");
        var current = new VolumeCatalog(context).Get(request.Volume.Path);
        var attachment = context.ReadAttachments().Of(current.Path);
        if (current.Encryption != "None")
            RequireMountableEncrypted(current, attachment);
        else
        {
            RequireMountable(current);
            if (!request.ReadOnly)
                new BackingChains(context).RequireNoDependants(current, "mounted read-write (mount it with -ReadOnly)");
        }
        var mountPoint = MountPointRules.Check(request.MountPoint);
        var plan = new MountVolumePlan(current, mountPoint.Path, request.ReadOnly, request.AllowDiscards) { CreatesMountPoint = mountPoint.Missing, Attachment = attachment };
        var dryRun = StepRunner.ForPlan(context);
        RunMount(plan, [], dryRun);
        return plan with { Steps = dryRun.Steps.ToList() };
    }

    public SparseVolume Apply(MountVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Apply(plan, [], progress, cancellationToken);

    /// <summary>Mounts as planned; a locked encrypted volume is unlocked with <paramref name="keys"/> first and locked again by its dismount.</summary>
    public SparseVolume Apply(MountVolumePlan plan, IReadOnlyList<VolumeKey> keys, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Mounting a volume");
        new LeftoverSweeper(context).Sweep(); // a daemon left by a killed mount of this volume would pass for its export
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        PlanRecheck.RequireSameSteps(plan, Plan(new MountVolumeRequest(plan.Volume, plan.MountPoint, plan.ReadOnly, plan.AllowDiscards)));
        RunMount(plan, keys, StepRunner.ForApply(context, progress, $"Mounting {plan.Volume.Name}", cancellationToken));
        return new VolumeCatalog(context).Get(plan.Volume.Path);
    }

    public SparseVolume Mount(SparseVolume volume, string mountPoint, bool readOnly, CancellationToken cancellationToken = default) =>
        Mount(volume, mountPoint, readOnly, [], false, cancellationToken);

    /// <summary>Plans and applies a mount in one call, for callers that confirm nothing.</summary>
    public SparseVolume Mount(SparseVolume volume, string mountPoint, bool readOnly, IReadOnlyList<VolumeKey> keys, bool allowDiscards, CancellationToken cancellationToken = default)
    {
        new LeftoverSweeper(context).Sweep();
        return Apply(Plan(new MountVolumeRequest(volume, mountPoint, readOnly, allowDiscards)), keys, null, cancellationToken);
    }

    /// <summary>
    /// The mount's steps in order. Each is undone in reverse order if a later one fails, so a failed mount leaves no
    /// loop device, daemon, unlocked plaintext or created mount point behind.
    /// </summary>
    private void RunMount(MountVolumePlan plan, IReadOnlyList<VolumeKey> keys, StepRunner steps)
    {
        var undo = new Stack<Action>();
        try
        {
            if (plan.CreatesMountPoint)
            {
                steps.Do($"create directory {plan.MountPoint}", () => Directory.CreateDirectory(plan.MountPoint));
                undo.Push(() => Directory.Delete(plan.MountPoint));
            }
            var device = plan.Volume.Encryption != "None" ? OpenEncrypted(plan, keys, steps, undo) : OpenPlain(plan, steps, undo);
            FileSystemType? fileSystem = plan.NeedsKey ? steps.DryRun ? null : UnlockedFileSystem(plan.Volume) : plan.Volume.FileSystem;
            steps.Do(Display(MountCommand(device, plan.MountPoint, fileSystem, plan.ReadOnly)),
                () => mounter.Mount(device, plan.MountPoint, fileSystem ?? FileSystemType.Unknown, plan.ReadOnly, steps.Cancellation));
            if (!steps.DryRun)
                exporter.Release(plan.Volume.Path);
        }
        catch when (!steps.DryRun)
        {
            Undo(undo);
            throw;
        }
    }

    /// <summary>A plain volume's block device: raw through a loop device, qcow2 through a FUSE export and a loop device.</summary>
    private string OpenPlain(MountVolumePlan plan, StepRunner steps, Stack<Action> undo)
    {
        var path = plan.Volume.Path;
        var file = path;
        if (plan.Volume.Format == VolumeFormat.Qcow2)
        {
            var options = FuseExportOptions.Qcow2(plan.ReadOnly);
            file = FuseExportRecord.ExportPathFor(context.Runtime.FuseExports, path);
            steps.Do(exporter.StartCommand(path, options).ToString(), () =>
            {
                var export = exporter.Start(path, options, steps.Cancellation);
                undo.Push(() => exporter.Stop(export, CancellationToken.None));
                file = export.ExportPath;
            });
        }
        return Attach(file, path, path, plan.ReadOnly, steps, undo);
    }

    /// <summary>An encrypted volume's plaintext device: unlocked by this mount unless already unlocked, then a loop device unless dm-crypt's own.</summary>
    private string OpenEncrypted(MountVolumePlan plan, IReadOnlyList<VolumeKey> keys, StepRunner steps, Stack<Action> undo)
    {
        var path = plan.Volume.Path;
        var header = VolumeUnlocker.RequireEncrypted(plan.Volume);
        var plaintext = plan.Attachment.PlaintextPath ?? (VolumeUnlocker.MethodFor(header.Container) == UnlockMethod.DmCrypt
            ? DmCryptMapping.DevicePathFor(path) : FuseExportRecord.ExportPathFor(context.Runtime.FuseExports, path));
        if (plan.NeedsKey)
        {
            var unlocker = new VolumeUnlocker(context);
            steps.Do(unlocker.OpenStep(plan.Volume, new UnlockOptions(plan.ReadOnly, plan.AllowDiscards)), () =>
            {
                plaintext = unlocker.Open(path, header, keys, new UnlockOptions(plan.ReadOnly, plan.AllowDiscards, LockWithDismount: true), steps.Cancellation);
                undo.Push(() => unlocker.Close(path, CancellationToken.None));
            });
        }
        return plaintext.StartsWith("/dev/", StringComparison.Ordinal) ? plaintext : Attach(plaintext, plaintext, path, plan.ReadOnly, steps, undo);
    }

    /// <summary>Attaches <paramref name="file"/>; a loop on the export of <paramref name="exported"/> is remembered in its record.</summary>
    private string Attach(string file, string volumePath, string exported, bool readOnly, StepRunner steps, Stack<Action> undo)
    {
        var device = OperationPlan.Measured("loop device");
        steps.Do(LoopDeviceManager.AttachCommand(file, readOnly).ToString(), () =>
        {
            device = loops.AttachVolume(file, volumePath, readOnly, steps.Cancellation);
            var attached = device;
            undo.Push(() => loops.Detach(attached, CancellationToken.None));
            exporter.RecordLoop(exported, attached);
        });
        return device;
    }

    /// <summary>The filesystem of a volume this mount has just unlocked; swap or none cannot be mounted.</summary>
    private FileSystemType UnlockedFileSystem(SparseVolume volume)
    {
        var fileSystem = new VolumeCatalog(context).Get(volume.Path).FileSystem;
        if (fileSystem is FileSystemType.None or FileSystemType.Swap)
            throw new StorageOperationException("NoMountableFileSystem", $"The unlocked volume '{volume.Name}' has {(fileSystem == FileSystemType.Swap ? "swap space" : "no filesystem")}; nothing to mount.", volume);
        return fileSystem;
    }

    /// <summary>mount with an explicit type; a type known only once the volume is unlocked shows as what it is.</summary>
    private static ToolCommand MountCommand(string device, string mountPoint, FileSystemType? fileSystem, bool readOnly) =>
        fileSystem is { } known
            ? Mounter.MountCommand(device, mountPoint, known, readOnly)
            : new ToolCommand("mount", ["-t", OperationPlan.Measured("filesystem found once unlocked"), .. readOnly ? new[] { "-o", "ro" } : [], device, mountPoint]);

    /// <summary>A command line as a step shows it: a value known only while running (&lt;loop device&gt;) is not quoted.</summary>
    private static string Display(ToolCommand command) => Placeholder().Replace(command.ToString(), "$1");

    [GeneratedRegex(@"'(<[^<>']*>)'")]
    private static partial Regex Placeholder();

    private static void RequireMountableEncrypted(SparseVolume current, VolumeAttachment attachment)
    {
        if (current.IsBroken)
            throw new StorageOperationException("VolumeBroken", $"The qemu-storage-daemon of '{current.Name}' is gone; run Lock-Volume to clean up first.", current);
        // On the dm-crypt path cryptsetup's own loop device carries the mapping; any other loop device means in use.
        if (attachment.IsMounted || attachment.LoopDevice is not null && attachment.MappedDevice is null)
            throw new VolumeInUseException($"Volume '{current.Name}' is already {attachment.Describe()}; dismount it first.", current);
    }

    /// <summary>What a dismount would do; no steps when the volume is neither mounted nor attached.</summary>
    public DismountVolumePlan Plan(DismountVolumeRequest request)
    {
        var attachment = context.ReadAttachments().Of(request.Volume.Path);
        var plan = new DismountVolumePlan(request.Volume) { Attachment = attachment };
        var dryRun = StepRunner.ForPlan(context);
        RunDismount(plan, dryRun);
        if (dryRun.Steps.Count > 0)
            context.RequireRoot("Dismounting a volume");
        return plan with { Steps = dryRun.Steps.ToList() };
    }

    /// <summary>
    /// Unmounts every mount of the volume, detaches its loop device and stops its FUSE daemon, as planned. An encrypted
    /// volume that Unlock-Volume opened stays unlocked (Lock-Volume closes it); one that the mount unlocked is locked again.
    /// </summary>
    public SparseVolume Apply(DismountVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (plan.Steps.Count == 0)
            return new VolumeCatalog(context).Get(plan.Volume.Path);
        context.RequireRoot("Dismounting a volume");
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        PlanRecheck.RequireSameSteps(plan, Plan(new DismountVolumeRequest(plan.Volume)));
        RunDismount(plan, StepRunner.ForApply(context, progress, $"Dismounting {plan.Volume.Name}", cancellationToken));
        return new VolumeCatalog(context).Get(plan.Volume.Path);
    }

    /// <summary>Plans and applies a dismount in one call, for callers that confirm nothing. A detached volume is left as it is.</summary>
    public SparseVolume Dismount(SparseVolume volume, CancellationToken cancellationToken = default) =>
        Apply(Plan(new DismountVolumeRequest(volume)), null, cancellationToken);

    private void RunDismount(DismountVolumePlan plan, StepRunner steps)
    {
        var attachment = plan.Attachment;
        foreach (var mountPoint in attachment.MountPoints)
            steps.Tool(Mounter.UnmountCommand(mountPoint));
        if (attachment.LoopDevice is { } loop && attachment.MappedDevice is null)
            steps.Do(LoopDeviceManager.DetachCommand(loop).ToString(), () => loops.Detach(loop, steps.Cancellation));
        if (attachment.FuseExport is { Decrypting: false } or { LockWithDismount: true })
            steps.Do(FuseExporter.StopStep(attachment.FuseExport), () => exporter.Stop(attachment.FuseExport, steps.Cancellation));
    }

    /// <summary>Unmounting every mount and detaching the loop device on top of the volume (not cryptsetup's own), as command lines.</summary>
    internal static List<string> UnmountAndDetachSteps(VolumeAttachment attachment)
    {
        var steps = attachment.MountPoints.Select(m => Mounter.UnmountCommand(m).ToString()).ToList();
        if (attachment.LoopDevice is not null && attachment.MappedDevice is null)
            steps.Add(LoopDeviceManager.DetachCommand(attachment.LoopDevice).ToString());
        return steps;
    }

    private static void RequireMountable(SparseVolume volume)
    {
        if (volume.IsAttached)
            throw new VolumeInUseException($"Volume '{volume.Name}' is already {(volume.IsMounted ? $"mounted at {volume.MountPoint}" : $"attached ({volume.LoopDevice ?? "FUSE export"})")}; dismount it first.", volume);
        if (volume.FileSystem is FileSystemType.None or FileSystemType.Swap)
            throw new StorageOperationException("NoMountableFileSystem",
                $"Volume '{volume.Name}' has {(volume.FileSystem == FileSystemType.Swap ? "swap space" : "no filesystem")}; nothing to mount. Create one with New-SparseVolume -FileSystem.", volume);
    }

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
