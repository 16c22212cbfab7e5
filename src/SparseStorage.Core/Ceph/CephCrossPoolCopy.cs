using SparseStorage.Core.Copying;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>A full copy between a Ceph pool and a file pool, as planned: one qemu-img convert into a work name, then the rename into place.</summary>
public sealed record CrossPoolCopyPlan(SparseVolume Source, string DestinationPath, VolumeFormat DestinationFormat, CopyVolumeRequest Request, IReadOnlyList<string> PlannedSteps) : OperationPlan
{
    public override string Target => DestinationPath;
    public override string Action => $"Copy {Source.Path} to {DestinationPath} ({DestinationFormat.ToString().ToLowerInvariant()}), holes kept";
    public override IReadOnlyList<string> Steps => PlannedSteps;

    /// <summary>Whether the copy goes into a Ceph pool (else into a file pool).</summary>
    public bool IntoCeph => CephPoolSettings.IsRbdPath(DestinationPath);

    /// <summary>The work file, or the work image of a Ceph pool, the copy is written to before it is renamed.</summary>
    internal string Temporary { get; init; } = "";

    /// <summary>The source's mount point on this host that is frozen while it is read, or null.</summary>
    internal string? FrozenMountPoint { get; init; }

    /// <summary>An image of the destination's name exists and -Replace removes it before the rename.</summary>
    internal bool RemovesExisting { get; init; }
}

/// <summary>
/// Copy-SparseVolume between a Ceph pool and a file pool, either way. qemu-img convert opens the image with qemu's rbd
/// driver (librbd reads the key from the pool's keyring file, which is all the command line names) and asks it which
/// ranges hold data, so the holes of the image stay holes in the file, all-zero blocks become holes too, and a copy into
/// Ceph writes only the data (an image reads zeros where it was never written). A file destination may be raw or qcow2,
/// as its extension says. The copy is written under a work name and renamed when complete; a filesystem's label and UUID
/// are copied as they are, as by a copy between file pools. A linked clone cannot cross pool kinds.
/// </summary>
public sealed class CephCrossPoolCopy(StorageContext context) : IPlannedOperation<(SparseVolume Source, CopyVolumeRequest Request), CrossPoolCopyPlan, SparseVolume>
{
    private static readonly TimeSpan CopyTimeout = TimeSpan.FromHours(12);

    /// <summary>Whether a copy of <paramref name="sourcePath"/> to <paramref name="destination"/> crosses from a Ceph pool to a file pool or back.</summary>
    public static bool Handles(string sourcePath, string destination) =>
        CephPoolSettings.IsRbdPath(sourcePath)
            ? destination.Contains('/') && !CephPoolSettings.IsRbdPath(destination)
            : CephPoolSettings.IsRbdPath(destination);

    public CrossPoolCopyPlan Plan((SparseVolume Source, CopyVolumeRequest Request) copy)
    {
        var (given, request) = copy;
        if (request.Linked)
            throw new InvalidStorageArgumentException("LinkedAcrossPoolKinds",
                $"A linked clone reads through its base image, so it must lie in the base's pool; '{request.Destination}' is in a pool of another kind than {given.Path}. Make a full copy (without -Linked).",
                request.Destination);
        var source = new VolumeCatalog(context).Get(given.Path);
        var plan = CephPoolSettings.IsRbdPath(source.Path) ? PlanToFile(source, request) : PlanIntoCeph(source, request);
        var steps = StepRunner.ForPlan(context);
        Run(steps, plan);
        return plan with { PlannedSteps = steps.Steps };
    }

    public SparseVolume Apply(CrossPoolCopyPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var sourceLock = context.LockVolume(plan.Source.Path, cancellationToken);
        using var destinationLock = context.LockVolume(plan.DestinationPath, cancellationToken);
        PlanRecheck.RequireSameSteps(plan, Plan((plan.Source, plan.Request)));
        try
        {
            Run(StepRunner.ForApply(context, progress, $"Copying {plan.Source.Name}", cancellationToken), plan);
        }
        finally
        {
            DiscardTemporary(plan);
        }
        return new VolumeCatalog(context).Get(plan.DestinationPath);
    }

    private CrossPoolCopyPlan PlanToFile(SparseVolume source, CopyVolumeRequest request)
    {
        var (settings, image) = Resolve(source.Path);
        var destination = Directory.Exists(request.Destination) ? Path.Combine(request.Destination, source.Name + ".img") : request.Destination;
        var format = Path.GetExtension(destination).Equals(".qcow2", StringComparison.OrdinalIgnoreCase) ? VolumeFormat.Qcow2 : VolumeFormat.Raw;
        VolumeCreator.RequireExtensionFor(destination, format);
        var (path, _) = context.Pools.Confine(destination);
        VolumeCopier.RequireReplaceable(context, path, request.Replace);
        var (consistency, frozen, warning) = SourceConsistency(source, request, new CephTools(settings), image);
        return new CrossPoolCopyPlan(source, path, format, request, [])
        {
            Temporary = SiblingFile.TemporaryFor(path),
            FrozenMountPoint = frozen,
            Warnings = warning is null ? [] : [warning],
        };
    }

    private CrossPoolCopyPlan PlanIntoCeph(SparseVolume source, CopyVolumeRequest request)
    {
        var (settings, image) = Resolve(request.Destination);
        Names.RequireValid(image, "Volume");
        if (source.Format == VolumeFormat.Qcow2 && source.Encryption != "None")
            throw new InvalidStorageArgumentException("EncryptedSource",
                $"Volume '{source.Name}' is a qcow2 image encrypted inside ({source.Encryption}); its data can be read only with its key. Copy it to a raw LUKS volume first, or remove its encryption.", source.Path);
        var removesExisting = RequireReplaceableImage(settings, image, request.Replace);
        var attachment = context.ReadAttachments().Of(source.Path);
        var consistency = InUseSource.Check(source, attachment, request.AllowInUseSource, "copy it");
        var warning = InUseSource.Warning(source, attachment, consistency);
        return new CrossPoolCopyPlan(source, settings.ImagePath(image), VolumeFormat.Raw, request, [])
        {
            Temporary = Path.GetFileName(SiblingFile.TemporaryIn("/", image)),
            FrozenMountPoint = InUseSource.FrozenMountPoint(context, attachment, consistency, "copy it"),
            RemovesExisting = removesExisting,
            Warnings = warning is null ? [] : [warning],
        };
    }

    /// <summary>
    /// How an image is kept still while it is read: mounted here, as a file volume is (frozen, or refused unless
    /// -AllowInUseSource); open elsewhere (watchers of other hosts), it cannot be paused from here and is read only with
    /// -AllowInUseSource.
    /// </summary>
    private (WriteConsistency Consistency, string? Frozen, string? Warning) SourceConsistency(SparseVolume source, CopyVolumeRequest request, CephTools tools, string image)
    {
        var attachment = context.ReadAttachments().Of(source.Path);
        if (attachment.IsAttached)
        {
            var consistency = InUseSource.Check(source, attachment, request.AllowInUseSource, "copy it");
            return (consistency, InUseSource.FrozenMountPoint(context, attachment, consistency, "copy it"), InUseSource.Warning(source, attachment, consistency));
        }
        var watchers = RbdMountLock.Watchers(context.Runner, tools, image);
        if (watchers.Count == 0)
            return (WriteConsistency.Detached, null, null);
        var open = $"Volume '{source.Name}' is open by other clients of the cluster ({string.Join(", ", watchers)}), perhaps mounted on another host, where its writes cannot be paused from here";
        if (!request.AllowInUseSource)
            throw new VolumeInUseException($"{open}; dismount it there, or use -AllowInUseSource to copy it anyway (the filesystem in the copy may then need a check).", source.Path);
        return (WriteConsistency.Unfrozen, null, open + "; the filesystem in the copy may need a check.");
    }

    /// <summary>Whether an image of this name exists (then only -Replace goes on, and never over one in use or with snapshots).</summary>
    private bool RequireReplaceableImage(CephPoolSettings settings, string image, bool replace)
    {
        var tools = new CephTools(settings);
        if (!CephListing.Names(context.Runner.RunChecked(tools.ListNames()).StandardOutput).Contains(image))
            return false;
        var path = settings.ImagePath(image);
        if (!replace)
            throw new ResourceExistsException("VolumeExists", $"'{path}' already exists; use -Replace to replace it.", path);
        var existing = new VolumeCatalog(context).Get(path);
        if (existing.SnapshotCount > 0)
            throw new ResourceExistsException("VolumeHasSnapshots",
                $"'{path}' has {existing.SnapshotCount} snapshot(s), which would then belong to the new volume; remove them first (Get-VolumeSnapshot -VolumePath '{path}' | Remove-VolumeSnapshot).", path);
        var watchers = RbdMountLock.Watchers(context.Runner, tools, image);
        var locks = RbdMountLock.Locks(context.Runner, settings, image);
        if (existing.IsAttached || watchers.Count > 0 || locks.Count > 0)
            throw new VolumeInUseException(
                $"'{path}' cannot be replaced: it is {(locks.Count > 0 ? "mounted read-write by " + locks[0].Describe() : existing.IsAttached ? "attached on this host" : "open by " + string.Join(", ", watchers))}.", path);
        return true;
    }

    private void Run(StepRunner steps, CrossPoolCopyPlan plan)
    {
        string Shown(string text) => steps.DryRun ? SiblingFile.AsPlanned(text, plan.Temporary) : text;
        var convert = ConvertCommand(plan) with { Progress = steps.QemuImgProgress() };
        InUseSource.ReadFrozen(steps, plan.FrozenMountPoint, () => steps.Do(Shown(convert.ToString()), () => context.Runner.RunChecked(convert, steps.Cancellation)));
        if (!plan.IntoCeph)
        {
            steps.Do(Shown($"rename {plan.Temporary} to {plan.DestinationPath}"), () => File.Move(plan.Temporary, plan.DestinationPath, overwrite: plan.Request.Replace));
            return;
        }
        var (settings, image) = Resolve(plan.DestinationPath);
        var tools = new CephTools(settings);
        if (plan.RemovesExisting)
            steps.Tool(tools.Remove(image));
        var rename = tools.Rbd("rename", "--image", plan.Temporary, "--dest", image);
        steps.Do(Shown(rename.ToString()), () => context.Runner.RunChecked(rename, steps.Cancellation));
    }

    private ToolCommand ConvertCommand(CrossPoolCopyPlan plan)
    {
        string[] formats = plan.IntoCeph
            ? ["-f", plan.Source.Format == VolumeFormat.Qcow2 ? "qcow2" : "raw", "-O", "raw"]
            : ["-f", "raw", "-O", plan.DestinationFormat == VolumeFormat.Qcow2 ? "qcow2" : "raw"];
        var source = plan.IntoCeph ? plan.Source.Path : QemuFileName(plan.Source.Path, null);
        var destination = plan.IntoCeph ? QemuFileName(plan.DestinationPath, plan.Temporary) : plan.Temporary;
        return new ToolCommand("qemu-img", ["convert", "-p", .. formats, source, destination]) { Timeout = CopyTimeout };
    }

    /// <summary>
    /// qemu's rbd filename, <c>rbd:POOL[/NS]/IMAGE:conf=FILE:id=USER[:keyring=FILE]</c>: librados reads the key from the
    /// keyring file. <paramref name="image"/> replaces the path's image (the work image of a copy into Ceph).
    /// </summary>
    private string QemuFileName(string volumePath, string? image)
    {
        var (settings, pathImage) = Resolve(volumePath);
        return "rbd:" + Escape(settings.Pool) + (settings.Namespace is null ? "" : "/" + Escape(settings.Namespace)) + "/" + Escape(image ?? pathImage) +
               ":conf=" + Escape(settings.ConfigPath) + ":id=" + Escape(settings.User) + (settings.Keyring is null ? "" : ":keyring=" + Escape(settings.Keyring));
    }

    /// <summary>qemu splits an rbd filename at ':', '/' and '@' unless a backslash escapes them.</summary>
    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(":", "\\:", StringComparison.Ordinal).Replace("@", "\\@", StringComparison.Ordinal);

    /// <summary>A failed or cancelled copy leaves no work file or work image behind.</summary>
    private void DiscardTemporary(CrossPoolCopyPlan plan)
    {
        if (!plan.IntoCeph)
        {
            SiblingFile.Discard(plan.Temporary);
            return;
        }
        try
        {
            var tools = new CephTools(Resolve(plan.DestinationPath).Settings);
            if (CephListing.Names(context.Runner.RunChecked(tools.ListNames(), CancellationToken.None).StandardOutput).Contains(plan.Temporary))
                context.Runner.RunChecked(tools.Remove(plan.Temporary), CancellationToken.None);
        }
        catch (SparseStorageException)
        {
            // The copy's own error is the one reported; the work image's name says what it is.
        }
    }

    private (CephPoolSettings Settings, string Image) Resolve(string volumePath)
    {
        foreach (var definition in context.Pools.Definitions().Where(d => d.IsCeph))
            if (definition.Ceph!.ImageOf(volumePath) is { } image)
                return (definition.Ceph, image);
        throw new PathOutsidePoolException($"'{volumePath}' names no image of a registered Ceph pool; register its pool with Register-StoragePool -CephPool.", volumePath);
    }
}
