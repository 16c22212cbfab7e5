using System.Globalization;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Backups;

/// <summary>
/// Archives a volume into a GNU sparse tar compressed with multithreaded zstd (<c>.tar.zst</c>), and expands it
/// back sparse and byte-identical. The format needs no module to read: <c>tar --sparse -I zstd -xf</c> opens it.
/// Expanding treats the archive as untrusted: its tar stream is read in-process and must hold one regular file
/// (see <see cref="SingleFileTarReader"/>). zstd's frame checksum and tar's own structure make a truncated or damaged
/// archive fail on expand; both sides work under a hidden temporary name, so a failure never leaves a file under the final name.
/// </summary>
public sealed class ArchiveService(StorageContext context)
    : IPlannedOperation<CompressVolumeRequest, CompressVolumePlan, VolumeArchive>, IPlannedOperation<ExpandVolumeRequest, ExpandVolumePlan, SparseVolume>
{
    public const string Extension = ".tar.zst";

    /// <summary>
    /// The command that archives the image. A sparse image's tar stream is written by <see cref="SparseTarWriter"/>
    /// into zstd, byte for byte what GNU tar would write, without tar's 512-byte reads; any other file (not sparse, or
    /// with a long name) goes through GNU tar itself, piped into zstd by the runner.
    /// </summary>
    public static ToolCommand CompressCommand(string image, string archive, int level, IProgress<OperationProgress>? progress = null) =>
        SparseTarWriter.For(image) is { } tar
            ? Compressor(archive, level) with
            {
                StandardInputSource = (output, token) => tar.Write(output, token, (done, total) => progress?.Report(new OperationProgress(
                    $"Archiving {Path.GetFileName(image)}", $"{ByteSize.Format(done)} of {ByteSize.Format(total)} of data compressed", done, total))),
            }
            : new ToolCommand("tar", "--sparse", "--create", "--file=-", $"--directory={Path.GetDirectoryName(image)}", "--", Path.GetFileName(image))
              | Compressor(archive, level);

    internal static ToolCommand Compressor(string archive, int level) =>
        new("zstd", "-q", "-T0", $"-{Level(level)}", "-o", archive) { Timeout = TimeSpan.FromHours(12) };

    /// <summary>What <see cref="CompressCommand"/> runs, as a person would read it.</summary>
    public static string DescribeCompression(string image, string archive, int level)
    {
        var command = CompressCommand(image, archive, level);
        return command.StandardInputSource is null ? command.ToString() : $"tar --sparse --create -f - {Path.GetFileName(image)} (written in-process) | {command}";
    }

    private static string Level(int level) => level.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The command that expands an archive: zstd decompresses it, fed in-process so that progress can be told, and the
    /// tar stream it writes is read in-process by <see cref="SingleFileTarReader"/>, which writes the one file into
    /// <paramref name="output"/>. tar itself never runs on an archive, so nothing in it can create a device, FIFO or link.
    /// </summary>
    internal static ToolCommand ExpandCommand(UntrustedFile.Opened archive, string archivePath, SingleFileTarReader output, IProgress<OperationProgress>? progress = null) =>
        new ToolCommand("zstd", "--decompress", "--stdout", "--quiet")
        {
            StandardInputSource = (input, token) => Feed(archive, archivePath, input, progress, token),
            StandardOutputSink = output.Read,
            Timeout = TimeSpan.FromHours(12),
        };

    /// <summary>What <see cref="ExpandCommand"/> runs, as a person would read it.</summary>
    public static string DescribeExpansion(string archive, string temporary) =>
        $"zstd --decompress --stdout --quiet < {archive} | (one regular file read from the tar stream in-process, written into a new 0600 file {temporary})";

    private static void Feed(UntrustedFile.Opened archive, string archivePath, Stream input, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 20];
        var (done, total) = (0L, archive.Size);
        for (int read; (read = RandomAccess.Read(archive.Handle, buffer, done)) > 0;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            input.Write(buffer, 0, read);
            done += read;
            progress?.Report(new OperationProgress($"Expanding {Path.GetFileName(archivePath)}", $"{ByteSize.Format(done)} of {ByteSize.Format(total)} of the archive read", done, Math.Max(done, total)));
        }
    }

    public static int RequireLevel(int level) =>
        level is >= 1 and <= 19 ? level
            : throw new InvalidStorageArgumentException("InvalidCompressionLevel", $"-Level {level} is out of range: zstd levels 1 (fastest) to 19 (smallest).", level);

    /// <summary>Checks an archive of a volume (level, zstd, the destination, an existing archive, a source in use) and lists its steps.</summary>
    public CompressVolumePlan Plan(CompressVolumeRequest request)
    {
        RequireLevel(request.Level);
        ToolLocator.Default.Locate("zstd");
        var source = new VolumeCatalog(context).Get(request.Volume.Path);
        var archivePath = ResolveArchivePath(source, request.Destination);
        if (File.Exists(archivePath) && !request.Replace)
            throw new ResourceExistsException("ArchiveExists", $"'{archivePath}' already exists; use -Replace to replace it.", archivePath);
        var attachment = context.ReadAttachments().Of(source.Path);
        var consistency = InUseSource.Check(source, attachment, request.AllowInUseSource, "archive it");
        var plan = new CompressVolumePlan(source, archivePath, request)
        {
            TemporaryPath = SiblingFile.TemporaryFor(archivePath),
            Consistency = consistency,
            FrozenMountPoint = InUseSource.FrozenMountPoint(context, attachment, consistency, "archive it"),
            Warnings = InUseSource.Warning(source, attachment, consistency) is { } warning ? [warning] : [],
        };
        var dryRun = StepRunner.ForPlan(context);
        RunCompress(plan, dryRun, null);
        return plan with { Steps = dryRun.Steps.ToList() };
    }

    public VolumeArchive Apply(CompressVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Source.Path, cancellationToken);
        PlanRecheck.RequireSameSteps(plan, Plan(plan.Request));
        try
        {
            RunCompress(plan, StepRunner.ForApply(context, progress, $"Archiving {plan.Source.Name}", cancellationToken), progress);
        }
        finally
        {
            SiblingFile.Discard(plan.TemporaryPath);
        }
        var source = plan.Source;
        return new VolumeArchive
        {
            Path = plan.ArchivePath, Source = source.Path, Codec = $"tar --sparse | zstd -{plan.Request.Level}", SizeBytes = source.SizeBytes,
            DataBytes = source.AllocatedBytes, StoredBytes = new FileInfo(plan.ArchivePath).Length, Consistency = plan.Consistency,
        };
    }

    private void RunCompress(CompressVolumePlan plan, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        var (source, temporary, level) = (plan.Source.Path, plan.TemporaryPath, plan.Request.Level);
        string Shown(string text) => steps.DryRun ? SiblingFile.AsPlanned(text, temporary) : text;
        InUseSource.ReadFrozen(steps, plan.FrozenMountPoint, () =>
            steps.Do(Shown(DescribeCompression(source, temporary, level)), () => context.Runner.RunChecked(CompressCommand(source, temporary, level, progress), steps.Cancellation)));
        steps.Do(Shown($"flush {temporary} and rename it to {plan.ArchivePath}"), () =>
        {
            using (var written = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite))
                written.Flush(flushToDisk: true);
            File.Move(temporary, plan.ArchivePath, overwrite: plan.Request.Replace);
        });
    }

    private static string ResolveArchivePath(SparseVolume volume, string destination) => ResolveArchivePath(Path.GetFileName(volume.Path), destination);

    /// <summary>The archive file: <paramref name="destination"/> itself (ending in .tar.zst), or &lt;image file name&gt;.tar.zst in that directory.</summary>
    internal static string ResolveArchivePath(string imageFileName, string destination)
    {
        var full = Path.GetFullPath(destination);
        if (Directory.Exists(full))
            full = Path.Combine(full, imageFileName + Extension);
        if (!full.EndsWith(Extension, StringComparison.Ordinal))
            throw new InvalidStorageArgumentException("InvalidArchiveExtension", $"An archive's name ends in {Extension} so that tar and zstd tools recognise it; '{destination}' does not.", destination);
        if (!Directory.Exists(Path.GetDirectoryName(full)))
            throw new InvalidStorageArgumentException("DirectoryNotFound", $"The directory of '{destination}' does not exist.", destination);
        return full;
    }

    /// <summary>Checks an expansion (the archive exists, the target lies in a pool and may be replaced) and lists its steps.</summary>
    public ExpandVolumePlan Plan(ExpandVolumeRequest request)
    {
        var archivePath = request.ArchivePath;
        if (!File.Exists(archivePath))
            throw new InvalidStorageArgumentException("ArchiveNotFound", $"No archive at '{archivePath}'.", archivePath);
        ToolLocator.Default.Locate("zstd");
        // A directory gets the image's own name back: web01.img.tar.zst expands to web01.img.
        var named = Directory.Exists(request.Destination) && Path.GetFileName(archivePath).EndsWith(Extension, StringComparison.Ordinal)
            ? Path.Combine(request.Destination, Path.GetFileName(archivePath)[..^Extension.Length])
            : request.Destination;
        var (target, _) = context.Pools.Confine(named);
        if (!VolumeInspector.Extensions.Contains(Path.GetExtension(target).ToLowerInvariant()))
            throw new InvalidStorageArgumentException("InvalidVolumeExtension", $"'{target}' does not end in {string.Join(", ", VolumeInspector.Extensions)}, so no pool would list it; give the volume file's name.", target);
        VolumeReplacement.RequireReplaceable(context, target, request.Replace);
        var plan = new ExpandVolumePlan(archivePath, target, request) { TemporaryPath = SiblingFile.TemporaryFor(target) };
        var dryRun = StepRunner.ForPlan(context);
        RunExpand(plan, null, dryRun, null);
        return plan with { Steps = dryRun.Steps.ToList() };
    }

    /// <summary>
    /// Expands an archive into a volume file in a pool. The archive must hold exactly one regular file, whose format
    /// must fit the target's extension; it is written into a hidden 0600 file the module creates (O_EXCL), flushed,
    /// checked and renamed. Anything else in the archive is refused before the target changes.
    /// </summary>
    public SparseVolume Apply(ExpandVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var archive = UntrustedFile.OpenRegular(plan.ArchivePath, "archive");
        using var volumeLock = context.LockVolume(plan.TargetPath, cancellationToken);
        PlanRecheck.RequireSameSteps(plan, Plan(plan.Request));
        try
        {
            RunExpand(plan, archive, StepRunner.ForApply(context, progress, $"Expanding {Path.GetFileName(plan.ArchivePath)}", cancellationToken), progress);
        }
        finally
        {
            SiblingFile.Discard(plan.TemporaryPath);
        }
        return new VolumeCatalog(context).Get(plan.TargetPath);
    }

    private void RunExpand(ExpandVolumePlan plan, UntrustedFile.Opened? archive, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        var (archivePath, temporary, target) = (plan.ArchivePath, plan.TemporaryPath, plan.TargetPath);
        string Shown(string text) => steps.DryRun ? SiblingFile.AsPlanned(text, temporary) : text;
        steps.Do(Shown(DescribeExpansion(archivePath, temporary)), () =>
        {
            using var output = Libc.Open(temporary, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000);
            var reader = new SingleFileTarReader(output, archivePath);
            context.Runner.RunChecked(ExpandCommand(archive!, archivePath, reader, progress), steps.Cancellation);
            if (!reader.Complete)
                throw new StorageOperationException("ArchiveTruncated", $"'{archivePath}' ends before its member does; it is cut short or damaged. Nothing was expanded.", archivePath);
            RandomAccess.FlushToDisk(output);
        });
        steps.Do(Shown($"check that {temporary} is a volume of the format its name says and rename it to {target}"), () =>
        {
            var format = new VolumeInspector(new Host.AttachmentState([], [], [])).Inspect(temporary, null).Format;
            VolumeCreator.RequireExtensionFor(target, format);
            File.Move(temporary, target, overwrite: plan.Request.Replace);
        });
    }
}
