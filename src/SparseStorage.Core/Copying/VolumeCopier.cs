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
    /// <summary>Replace an existing destination; also copy a source whose writes cannot be paused.</summary>
    public bool Force { get; init; }
}

/// <summary>A validated copy: where it goes and what it will run.</summary>
public sealed record CopyVolumePlan(SparseVolume Source, string DestinationPath, string Pool, CopyVolumeRequest Request)
{
    public string Describe() => Request.Linked
        ? $"Create linked clone {DestinationPath} on base image {Source.Path} (the base becomes read-only)"
        : $"Copy {ByteSize.Format(Source.AllocatedBytes)} of allocated data to {DestinationPath}{(Request.DetectZeroes ? ", zero blocks as holes" : "")}";
}

/// <summary>
/// Full clones that keep holes (the sparse copy engine: reflink where source and destination share a filesystem
/// that can, copy_file_range otherwise) and linked clones (qcow2 overlays on a read-only base). Both are written
/// under a hidden temporary name and renamed when complete.
/// </summary>
public sealed class VolumeCopier(StorageContext context)
{
    public CopyVolumePlan Plan(SparseVolume source, CopyVolumeRequest request)
    {
        if (request.Linked && request.DetectZeroes)
            throw new InvalidStorageArgumentException("LinkedWithDetectZeroes", "-DetectZeroes applies to full copies; a linked clone copies no data.", request.Destination);
        var destination = ResolveDestination(source, request);
        VolumeCreator.RequireExtensionFor(destination, request.Linked ? VolumeFormat.Qcow2 : source.Format);
        var (path, pool) = context.Pools.Confine(destination);
        if (path == source.Path)
            throw new InvalidStorageArgumentException("DestinationIsSource", $"The destination '{path}' is the source volume itself.", path);
        RequireReplaceable(path, request.Force);
        if (request.Linked)
            RequireLinkableBase(source);
        RequireBaseInPool(source, request, pool.Name);
        return new CopyVolumePlan(source, path, pool.Name, request);
    }

    public SparseVolume Copy(CopyVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var sourceLock = context.LockVolume(plan.Source.Path, cancellationToken);
        using var destinationLock = context.LockVolume(plan.DestinationPath, cancellationToken);
        var source = new VolumeCatalog(context).Get(plan.Source.Path);
        RequireReplaceable(plan.DestinationPath, plan.Request.Force);
        var temporary = SiblingFile.TemporaryFor(plan.DestinationPath);
        try
        {
            if (plan.Request.Linked)
                CreateOverlay(source, temporary, cancellationToken);
            else
                CopyFull(source, temporary, plan, progress, cancellationToken);
            File.Move(temporary, plan.DestinationPath, overwrite: plan.Request.Force);
        }
        finally
        {
            SiblingFile.Discard(temporary);
        }
        return new VolumeCatalog(context).Get(plan.DestinationPath);
    }

    public static ToolCommand OverlayCommand(string basePath, VolumeFormat baseFormat, string overlayPath) =>
        new("qemu-img", "create", "-q", "-f", "qcow2", "-b", basePath, "-F", baseFormat == VolumeFormat.Qcow2 ? "qcow2" : "raw", overlayPath);

    private void CopyFull(SparseVolume source, string temporary, CopyVolumePlan plan, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var attachment = context.ReadAttachments().Of(source.Path);
        using (FileSystemFreeze.Begin(context, source, attachment, plan.Request.Force, "copy it", cancellationToken))
            SparseCopier.Copy(source.Path, temporary, new SparseCopyOptions { DetectZeroes = plan.Request.DetectZeroes }, progress, cancellationToken);
    }

    private void CreateOverlay(SparseVolume source, string temporary, CancellationToken cancellationToken)
    {
        RequireLinkableBase(source);
        context.Runner.RunChecked(OverlayCommand(source.Path, source.Format, temporary), cancellationToken);
        // The base must never change under its clones; without write permission a stray open for writing fails.
        File.SetUnixFileMode(source.Path, File.GetUnixFileMode(source.Path) & ~(UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite));
    }

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

    private void RequireReplaceable(string path, bool force)
    {
        var name = VolumeInspector.NameOf(path);
        var sibling = VolumeInspector.Extensions.Select(e => System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, name + e))
            .FirstOrDefault(p => p != path && File.Exists(p));
        if (sibling is not null)
            throw new ResourceExistsException("VolumeExists", $"A volume named '{name}' already exists beside the destination ({sibling}); choose another name.", sibling);
        VolumeReplacement.RequireReplaceable(context, path, force);
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
