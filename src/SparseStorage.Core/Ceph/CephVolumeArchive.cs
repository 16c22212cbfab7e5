using SparseStorage.Core.Backups;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// Compress-SparseVolume of a volume of a Ceph pool: the image is exported read-only as a file (qemu-storage-daemon,
/// qemu's rbd driver, FUSE: <see cref="RbdExport"/>) and archived like an image file — a GNU sparse tar whose member is
/// IMAGE.img, its data regions found with SEEK_DATA so holes stay holes, compressed by zstd — so that
/// Expand-SparseVolume (or tar --sparse -I zstd -xf) brings it back as a raw volume of a file pool. Refused while the
/// image is exported or mounted here, or open by another client (RBD watchers), unless -AllowInUseSource.
/// </summary>
public sealed class CephVolumeArchive(StorageContext context) : IPlannedOperation<CompressVolumeRequest, CompressVolumePlan, VolumeArchive>
{
    public CompressVolumePlan Plan(CompressVolumeRequest request)
    {
        ArchiveService.RequireLevel(request.Level);
        ToolLocator.Default.Locate("zstd");
        var (pool, image) = CephImages.Resolve(context, request.Volume.Path);
        var source = pool.Volume(image);
        var archivePath = ArchiveService.ResolveArchivePath(MemberName(image), request.Destination);
        if (File.Exists(archivePath) && !request.Replace)
            throw new ResourceExistsException("ArchiveExists", $"'{archivePath}' already exists; use -Replace to replace it.", archivePath);
        if (FuseExportRecord.Read(context.Runtime.FuseExports, source.Path) is not null || context.ReadAttachments().Of(source.Path).IsAttached)
            throw new VolumeInUseException($"Volume '{image}' is exported or mounted on this host; dismount it before archiving it.", source.Path);
        var watchers = CephListing.Watchers(context.Runner.RunChecked(pool.Tools.Status(image)).StandardOutput);
        if (watchers.Count > 0 && !request.AllowInUseSource)
            throw new VolumeInUseException(
                $"Volume '{image}' is open by {string.Join(", ", watchers)} (RBD watchers) and its writes cannot be paused from here; close it there, or use -AllowInUseSource to archive it anyway (the archived filesystem may then need a check).", source.Path);
        var plan = new CompressVolumePlan(source, archivePath, request)
        {
            TemporaryPath = SiblingFile.TemporaryFor(archivePath),
            Consistency = watchers.Count > 0 ? WriteConsistency.Unfrozen : WriteConsistency.Detached,
            Warnings = watchers.Count > 0 ? [$"Volume '{image}' is open by {string.Join(", ", watchers)} and is archived while it may change; the archived filesystem may need a check."] : [],
        };
        var steps = StepRunner.ForPlan(context);
        Run(plan, pool.Settings, image, steps, null);
        return plan with { Steps = steps.Steps.ToList() };
    }

    public VolumeArchive Apply(CompressVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Source.Path, cancellationToken);
        PlanRecheck.RequireSameSteps(plan, Plan(plan.Request));
        var (pool, image) = CephImages.Resolve(context, plan.Source.Path);
        try
        {
            Run(plan, pool.Settings, image, StepRunner.ForApply(context, progress, $"Archiving {plan.Source.Name}", cancellationToken), progress);
        }
        finally
        {
            SiblingFile.Discard(plan.TemporaryPath);
        }
        return new VolumeArchive
        {
            Path = plan.ArchivePath, Source = plan.Source.Path, Codec = $"tar --sparse | zstd -{plan.Request.Level}", SizeBytes = plan.Source.SizeBytes,
            DataBytes = plan.Source.AllocatedBytes, StoredBytes = new FileInfo(plan.ArchivePath).Length, Consistency = plan.Consistency,
        };
    }

    /// <summary>The archive's one member: the image's name with .img, so that it expands to a raw volume of a file pool.</summary>
    public static string MemberName(string image) => image + ".img";

    private void Run(CompressVolumePlan plan, CephPoolSettings settings, string image, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        var temporary = plan.TemporaryPath;
        string Shown(string text) => steps.DryRun ? SiblingFile.AsPlanned(text, temporary) : text;
        var export = new RbdExport(context, settings, image, readOnly: true);
        var record = export.Start(steps);
        try
        {
            var compressor = ArchiveService.Compressor(temporary, plan.Request.Level);
            steps.Do(Shown($"tar --sparse --create -f - {MemberName(image)} (the data regions of {export.ExportPath}, written in-process) | {compressor}"), () =>
            {
                var tar = SparseTarWriter.Named(export.ExportPath, MemberName(image));
                context.Runner.RunChecked(compressor with
                {
                    StandardInputSource = (output, token) => tar.Write(output, token, (done, total) => progress?.Report(new OperationProgress(
                        $"Archiving {image}", $"{ByteSize.Format(done)} of {ByteSize.Format(total)} of data compressed", done, total))),
                }, steps.Cancellation);
            });
        }
        finally
        {
            export.Stop(steps, record);
        }
        steps.Do(Shown($"flush {temporary} and rename it to {plan.ArchivePath}"), () =>
        {
            using (var written = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite))
                written.Flush(flushToDisk: true);
            File.Move(temporary, plan.ArchivePath, overwrite: plan.Request.Replace);
        });
    }
}
