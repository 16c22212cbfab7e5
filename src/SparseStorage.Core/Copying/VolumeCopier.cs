using SparseStorage.Core.Planning;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Copying;

public sealed record CopyVolumeRequest
{
    /// <summary>A volume name (the copy goes beside the source), a file path, or a pool directory.</summary>
    public required string Destination { get; init; }
    /// <summary>A qcow2 overlay that reads through the source, instead of a full copy.</summary>
    public bool Linked { get; init; }
    public bool DetectZeroes { get; init; }
    /// <summary>Replace an existing destination volume (never one in use, a base image or one with snapshots).</summary>
    public bool Replace { get; init; }
    /// <summary>Copy a source that is attached writable and whose writes cannot be paused (the copy may then need a filesystem check).</summary>
    public bool AllowInUseSource { get; init; }
}

/// <summary>A validated copy: where it goes, how the source is kept still while it is read, and the steps Apply runs.</summary>
public sealed record CopyVolumePlan(SparseVolume Source, string DestinationPath, string Pool, CopyVolumeRequest Request) : OperationPlan
{
    public override string Target => Source.Path;
    public override string Action => Request.Linked
        ? $"Create linked clone {DestinationPath} on base image {Source.Path} (the base becomes read-only)"
        : $"Copy {ByteSize.Format(Source.AllocatedBytes)} of allocated data to {DestinationPath}{(Request.DetectZeroes ? ", zero blocks as holes" : "")}";

    /// <summary>Where the copy is written before it is renamed into place.</summary>
    public required string TemporaryPath { get; init; }

    /// <summary>How the source is kept consistent while a full copy reads it.</summary>
    public WriteConsistency Consistency { get; init; }

    /// <summary>The source's mount point that is frozen for the copy, or null.</summary>
    internal string? FrozenMountPoint { get; init; }

}

/// <summary>
/// Full clones that keep holes (the sparse copy engine: reflink where source and destination share a filesystem
/// that can, copy_file_range otherwise) and linked clones (qcow2 overlays on a read-only base). Both are written
/// under a hidden temporary name and renamed when complete.
/// </summary>
public sealed class VolumeCopier(StorageContext context) : IPlannedOperation<(SparseVolume Source, CopyVolumeRequest Request), CopyVolumePlan, SparseVolume>
{
    public CopyVolumePlan Plan((SparseVolume Source, CopyVolumeRequest Request) copy) => Plan(copy.Source, copy.Request);

    public CopyVolumePlan Plan(SparseVolume source, CopyVolumeRequest request)
    {
        if (request.Linked && request.DetectZeroes)
            throw new InvalidStorageArgumentException("LinkedWithDetectZeroes", "-DetectZeroes applies to full copies; a linked clone copies no data.", request.Destination);
        source = new VolumeCatalog(context).Get(source.Path);
        var destination = ResolveDestination(source, request);
        VolumeCreator.RequireExtensionFor(destination, request.Linked ? VolumeFormat.Qcow2 : source.Format);
        var (path, pool) = context.Pools.Confine(destination);
        if (path == source.Path)
            throw new InvalidStorageArgumentException("DestinationIsSource", $"The destination '{path}' is the source volume itself.", path);
        RequireReplaceable(context, path, request.Replace);
        if (request.Linked)
            RequireLinkableBase(source);
        RequireBaseInPool(source, request, pool.Name);
        var attachment = context.ReadAttachments().Of(source.Path);
        var consistency = request.Linked ? FileSystemFreeze.Assess(source, attachment) : InUseSource.Check(source, attachment, request.AllowInUseSource, "copy it");
        var frozen = request.Linked ? null : InUseSource.FrozenMountPoint(context, attachment, consistency, "copy it");
        var plan = new CopyVolumePlan(source, path, pool.Name, request)
        {
            TemporaryPath = SiblingFile.TemporaryFor(path),
            Consistency = consistency,
            FrozenMountPoint = frozen,
            Warnings = !request.Linked && InUseSource.Warning(source, attachment, consistency) is { } warning ? [warning] : [],
        };
        var dryRun = StepRunner.ForPlan(context);
        Run(plan, dryRun, null);
        return plan with { Steps = dryRun.Steps.ToList() };
    }

    public SparseVolume Apply(CopyVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var sourceLock = context.LockVolume(plan.Source.Path, cancellationToken);
        using var destinationLock = context.LockVolume(plan.DestinationPath, cancellationToken);
        PlanRecheck.RequireSameSteps(plan, Plan(plan.Source, plan.Request));
        try
        {
            Run(plan, StepRunner.ForApply(context, progress, $"Copying {plan.Source.Name}", cancellationToken), progress);
        }
        finally
        {
            SiblingFile.Discard(plan.TemporaryPath);
        }
        return new VolumeCatalog(context).Get(plan.DestinationPath);
    }

    /// <summary>Applies a plan (the name Core callers and tests use).</summary>
    public SparseVolume Copy(CopyVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Apply(plan, progress, cancellationToken);

    private void Run(CopyVolumePlan plan, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        var source = plan.Source;
        string Shown(string text) => steps.DryRun ? SiblingFile.AsPlanned(text, plan.TemporaryPath) : text;
        if (plan.Request.Linked)
        {
            var overlay = OverlayCommand(source.Path, source.Format, plan.TemporaryPath);
            steps.Do(Shown(overlay.ToString()), () => context.Runner.RunChecked(overlay, steps.Cancellation));
            // The base must never change under its clones; without write permission a stray open for writing fails.
            steps.Do($"remove write permission from {source.Path} (the base image of {plan.DestinationPath})", () =>
                File.SetUnixFileMode(source.Path, File.GetUnixFileMode(source.Path) & ~(UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)));
        }
        else
            InUseSource.ReadFrozen(steps, plan.FrozenMountPoint, () => steps.Do(Shown(
                $"copy the allocated data of {source.Path} into {plan.TemporaryPath}, keeping holes{(plan.Request.DetectZeroes ? " and making all-zero blocks holes" : "")}"),
                () => SparseCopier.Copy(source.Path, plan.TemporaryPath, new SparseCopyOptions { DetectZeroes = plan.Request.DetectZeroes }, progress, steps.Cancellation)));
        steps.Do(Shown($"rename {plan.TemporaryPath} to {plan.DestinationPath}"), () => File.Move(plan.TemporaryPath, plan.DestinationPath, overwrite: plan.Request.Replace));
    }

    public static ToolCommand OverlayCommand(string basePath, VolumeFormat baseFormat, string overlayPath) =>
        new("qemu-img", "create", "-q", "-f", "qcow2", "-b", basePath, "-F", baseFormat == VolumeFormat.Qcow2 ? "qcow2" : "raw", overlayPath);

    private static string ResolveDestination(SparseVolume source, CopyVolumeRequest request)
    {
        var destination = request.Destination;
        var extension = request.Linked ? ".qcow2" : System.IO.Path.GetExtension(source.Path);
        if (Directory.Exists(destination))
            return System.IO.Path.Combine(destination, source.Name + extension);
        if (destination.Contains('/'))
            return destination;
        var name = VolumeInspector.NameOf(destination);
        Names.RequireValid(name, "Volume");
        return System.IO.Path.Combine(System.IO.Path.GetDirectoryName(source.Path)!, name == destination ? name + extension : destination);
    }

    /// <summary>A destination file that is free, or replaceable with -Replace; never beside a volume of the same name.</summary>
    internal static void RequireReplaceable(StorageContext context, string path, bool replace)
    {
        var name = VolumeInspector.NameOf(path);
        var sibling = VolumeInspector.Extensions.Select(e => System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, name + e))
            .FirstOrDefault(p => p != path && File.Exists(p));
        if (sibling is not null)
            throw new ResourceExistsException("VolumeExists", $"A volume named '{name}' already exists beside the destination ({sibling}); choose another name.", sibling);
        VolumeReplacement.RequireReplaceable(context, path, replace);
    }

    /// <summary>An image may only read through a base in its own pool (docs/security.md), so a clone stays beside its base.</summary>
    private static void RequireBaseInPool(SparseVolume source, CopyVolumeRequest request, string destinationPool)
    {
        if ((request.Linked || source.BackingFile is not null) && !string.Equals(source.Pool, destinationPool, StringComparison.OrdinalIgnoreCase))
            throw new InvalidStorageArgumentException("BaseOutsidePool",
                $"A linked clone must lie in the pool of its base image ('{source.Pool}'), not in '{destinationPool}': an image may only refer to files in its own pool. " +
                (request.Linked ? "Make a full copy instead." : $"'{source.Name}' is itself a linked clone; copy it within its pool."), request.Destination);
    }

    private void RequireLinkableBase(SparseVolume source)
    {
        if (source.Encryption != "None")
            throw new InvalidStorageArgumentException("EncryptedBase", $"Volume '{source.Name}' is encrypted ({source.Encryption}); a linked clone needs a plain base image. Make a full copy instead.", source.Path);
        var attachment = context.ReadAttachments().Of(source.Path);
        if (attachment.IsAttached && !attachment.ReadOnly)
            throw new VolumeInUseException($"Volume '{source.Name}' is {attachment.Describe()} read-write; a base image must not change under its clones. Dismount it, or mount it with -ReadOnly.", source.Path);
    }
}
