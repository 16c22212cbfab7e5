using SparseStorage.Core.Backups;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

public sealed record RestoreCephBackupRequest(string SetDirectory, string? Destination, BackupSignaturePolicy? Signature = null);

/// <summary>A restore of a set of an RBD image as planned: into an image of a Ceph pool, or into a raw file of a file pool.</summary>
public sealed record CephRestorePlan(string SetDirectory, string TargetPath, BackupManifest Manifest, IReadOnlyList<BackupCatalog.Link> Chain) : OperationPlan
{
    /// <summary>The target's pool and image when it is a volume of a Ceph pool; null for a file.</summary>
    public string? TargetPool { get; init; }
    public string? TargetImage { get; init; }
    public bool ReplacesExisting { get; init; }
    public bool IsSigned { get; init; }
    public bool SignatureVerified { get; init; }
    /// <summary>The target is the image the set was made of: it keeps the set's snapshot, so the next backup goes on from the set.</summary>
    public bool ToRecordedImage { get; init; }
    internal RestoreCephBackupRequest Request { get; init; } = new("", null);

    public override string Target => TargetPath;
    public override string Action => ReplacesExisting
        ? $"Replace {TargetPath} with backup set {Manifest.Name}, losing what was written to it since"
        : $"Restore backup set {Manifest.Name} to {TargetPath}";
    public override string? ConfirmationQuery => ReplacesExisting
        ? $"The content of {TargetPath} is replaced by backup set {Manifest.Name} of {DateTime.SpecifyKind(Manifest.CreatedUtc, DateTimeKind.Utc):u}; everything written to it since is lost. Restore it?"
        : null;
}

/// <summary>
/// Restores a backup set of an RBD image (<see cref="CephVolumeBackup"/>) and its chain, checked byte for byte.
/// Into a Ceph pool: a new image under a work name, <c>rbd import-diff</c> of every diff of the chain (each checked
/// against its SHA-256 first), the image read back with <c>rbd export-diff</c> and every block compared with the
/// manifest, and only then renamed into place; an image it replaces is renamed aside first and removed last. Into a file
/// pool: the diffs are applied in-process (<see cref="RbdDiffReader"/>, which refuses anything rbd would not write) to a
/// hidden sparse raw file beside the target — data written, zeros punched out so holes stay holes — which is flushed,
/// read back and compared block by block before it is renamed into place. The same rules as for file volumes hold:
/// a set goes only to the volume it records or to an explicit -Destination, a signed set is checked with the key, and
/// nothing replaces a volume in use, one with snapshots of its own, or one with clones.
/// </summary>
public sealed class CephBackupRestorer(StorageContext context) : IPlannedOperation<RestoreCephBackupRequest, CephRestorePlan, SparseVolume>
{
    private const string WorkPrefix = "sparsestorage-restoring-";
    private const string AsidePrefix = "sparsestorage-replaced-";

    /// <summary>Whether Restore-SparseVolume hands this restore here: the set is of an RBD image, or the destination is an rbd: path.</summary>
    public static bool Handles(string setDirectory, string? destination)
    {
        if (destination is not null && CephPoolSettings.IsRbdPath(destination))
            return true;
        try
        {
            return BackupManifest.Load(setDirectory).Manifest.Rbd is not null;
        }
        catch (BackupDamagedException)
        {
            return false;
        }
    }

    public CephRestorePlan Plan(RestoreCephBackupRequest request)
    {
        var set = BackupCatalog.RequireSet(Path.GetFullPath(request.SetDirectory));
        var chain = BackupCatalog.Chain(set, request.Signature);
        var manifest = chain[^1].Manifest;
        if (manifest.Rbd is null)
            throw new InvalidStorageArgumentException("CephVolumeNotSupported",
                $"Backup set {set} is of an image file ({manifest.VolumePath}); it is restored into a file pool, not into a Ceph pool.", request.Destination);
        BackupCatalog.RequireDiffFiles(chain);
        BackupManifestBounds.Require(manifest, set);
        var signed = BackupSignature.IsSigned(set);
        var plan = new CephRestorePlan(set, "", manifest, chain)
        {
            Impact = PlanImpact.High, IsSigned = signed, SignatureVerified = signed && request.Signature is not null, Request = request,
            Warnings = (signed, request.Signature is not null) switch
            {
                (false, true) => [$"Backup set {set} is not signed (-AllowUnsigned): nothing shows that it was not changed since it was made."],
                (true, false) => [$"Backup set {set} is signed, but no -IntegrityKeyFile was given: its signature was not checked, only its checksums, which guard against damage, not tampering."],
                _ => [],
            },
        };
        plan = ResolveTarget(plan, manifest, set, request.Destination);
        var steps = StepRunner.ForPlan(context);
        Run(plan, steps, null);
        return plan with { Steps = steps.Steps };
    }

    public SparseVolume Apply(CephRestorePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.TargetPath, cancellationToken);
        var current = Plan(plan.Request);
        if (!current.Chain.Select(l => l.Checksum).SequenceEqual(plan.Chain.Select(l => l.Checksum)) || current.TargetPath != plan.TargetPath
            || current.ReplacesExisting != plan.ReplacesExisting)
            throw new StorageOperationException("ChangedSincePlanned",
                $"Backup set {plan.SetDirectory} or the restore target {plan.TargetPath} changed after the plan was made ({plan.Describe()}); nothing was restored. Run the command again.", plan.SetDirectory);
        Run(plan, StepRunner.ForApply(context, progress, $"Restoring {plan.TargetPath}", cancellationToken), progress);
        return new VolumeCatalog(context).Get(plan.TargetPath);
    }

    /// <summary>
    /// Where the image goes: the recorded image when no destination is given (the record checked as for file volumes),
    /// an rbd: path in a registered Ceph pool, a file path in a file pool, or a bare name beside the recorded image.
    /// </summary>
    private CephRestorePlan ResolveTarget(CephRestorePlan plan, BackupManifest manifest, string set, string? destination)
    {
        if (destination is not null && !CephPoolSettings.IsRbdPath(destination) && destination.Contains('/'))
        {
            var file = context.Pools.Confine(VolumeCreator.RequireExtensionFor(destination, VolumeFormat.Raw)).Path;
            VolumeReplacement.RequireReplaceable(context, file, force: true);
            return plan with { TargetPath = file, ReplacesExisting = File.Exists(file) };
        }
        string path;
        if (destination is not null && CephPoolSettings.IsRbdPath(destination))
            path = destination;
        else
        {
            var recorded = RequireRecordedImage(manifest, set);
            path = destination is null ? recorded : recorded[..(recorded.LastIndexOf('/') + 1)] + Pools.Names.RequireValid(destination, "Volume");
        }
        var (pool, image) = CephImages.Resolve(context, path);
        Pools.Names.RequireValid(image, "Volume");
        var images = CephListing.Names(context.Runner.RunChecked(pool.Tools.ListNames()).StandardOutput);
        if (images.Contains(WorkPrefix + image) || images.Contains(AsidePrefix + image))
            throw new VolumeInUseException(
                $"Pool '{pool.Settings.Location}' holds {WorkPrefix + image} or {AsidePrefix + image}: a restore of '{image}' is running or was stopped. Remove that image when no restore runs, then try again.", path);
        var exists = images.Contains(image);
        if (exists)
            RequireReplaceable(pool, image, path);
        return plan with
        {
            TargetPath = path, TargetPool = pool.Settings.Location, TargetImage = image, ReplacesExisting = exists, ToRecordedImage = path == manifest.VolumePath,
        };
    }

    /// <summary>The set's own record of its image, not taken on trust: an rbd: path of a registered Ceph pool, of the volume its folder is named after, in the pool it records.</summary>
    private string RequireRecordedImage(BackupManifest manifest, string set)
    {
        var recorded = manifest.VolumePath;
        var folder = Path.GetFileName(Path.GetDirectoryName(set.TrimEnd('/')));
        if (!CephPoolSettings.IsRbdPath(recorded))
            throw Refused(set, $"it records the volume path '{recorded}', which is not an image of a Ceph pool");
        var definition = context.Pools.Definitions().FirstOrDefault(d => d.IsCeph && d.Ceph!.ImageOf(recorded) is not null)
                         ?? throw Refused(set, $"its recorded image '{recorded}' is in no registered Ceph pool");
        if (definition.Ceph!.ImageOf(recorded) != manifest.Volume || manifest.Volume != folder)
            throw Refused(set, $"it records volume '{manifest.Volume}' at '{recorded}' but lies in the backup folder of '{folder}'");
        if (manifest.Pool is { } own && !own.Equals(definition.Name, StringComparison.OrdinalIgnoreCase))
            throw Refused(set, $"it records pool '{own}' but its image '{recorded}' lies in pool '{definition.Name}'");
        return recorded;
    }

    private static BackupIntegrityException Refused(string set, string why) =>
        new("BackupSourceOutsidePool",
            $"Backup set {set} is not restored to the place it records: {why}. Nothing was restored; give -Destination with an rbd: path or a file path in a pool to restore it elsewhere knowingly.", set);

    /// <summary>An image is replaced only when nothing uses it and it has no snapshots but backup snapshots (no clones can hang on those).</summary>
    private void RequireReplaceable(CephPool pool, string image, string path)
    {
        if (FuseExportRecord.Read(context.Runtime.FuseExports, path) is not null || context.ReadAttachments().Of(path).IsAttached)
            throw new VolumeInUseException($"Volume '{image}' is exported or mounted on this host; dismount it before restoring over it.", path);
        var watchers = CephListing.Watchers(context.Runner.RunChecked(pool.Tools.Status(image)).StandardOutput);
        if (watchers.Count > 0)
            throw new VolumeInUseException($"Volume '{image}' is open by {string.Join(", ", watchers)} (RBD watchers); close it there before restoring over it.", path);
        var own = CephImages.Snapshots(context, pool, image).Where(s => !s.Name.StartsWith(CephVolumeBackup.SnapshotPrefix, StringComparison.Ordinal)).ToList();
        if (own.Count > 0)
            throw new VolumeInUseException(
                $"Volume '{image}' has snapshots ({string.Join(", ", own.Select(s => s.Name))}), which a restore over it would destroy; remove them, or restore to another -Destination.", path);
    }

    private void Run(CephRestorePlan plan, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        if (plan.TargetImage is null)
            RunIntoFile(plan, steps, progress);
        else
            RunIntoImage(plan, steps);
    }

    private void RunIntoImage(CephRestorePlan plan, StepRunner steps)
    {
        var (pool, image) = CephImages.Resolve(context, plan.TargetPath);
        var tools = pool.Tools;
        var (work, aside) = (WorkPrefix + image, AsidePrefix + image);
        var diffs = plan.Chain.Select(l => (Link: l, Path: Path.Combine(l.Directory, RbdBackupRecord.DiffFileName))).ToList();
        steps.Do($"Check the SHA-256 of the {diffs.Count} diff file(s) of backup set {plan.Manifest.Name}'s chain against their manifests", () =>
        {
            foreach (var (link, path) in diffs)
                RequireDiffHash(link, path);
        });
        var created = false;
        try
        {
            steps.Tool(tools.Create(work, plan.Manifest.SizeBytes));
            created = !steps.DryRun;
            foreach (var (_, path) in diffs)
                steps.Tool(tools.ImportDiff(path, work));
            var blocks = new StreamedBlocks(plan.Manifest.BlockSize);
            steps.Tool(tools.ExportDiff(work, plan.Manifest.Rbd!.Snapshot, null, "-") with
            {
                StandardOutputSink = (output, token) => new RbdDiffReader(output, $"rbd export-diff of {work}").Read(blocks, token),
            });
            steps.Do($"Compare every block of {work} as read back with backup set {plan.Manifest.Name}'s manifest", () =>
                RequireBlocks(plan, blocks.Complete(), blocks.SizeBytes, work));
            var keep = plan.ToRecordedImage ? plan.Manifest.Rbd.Snapshot : null;
            foreach (var link in plan.Chain.Where(l => l.Manifest.Rbd!.Snapshot != keep))
                steps.Tool(tools.RemoveSnapshot(work, link.Manifest.Rbd!.Snapshot));
            if (plan.ReplacesExisting)
                steps.Tool(tools.Rename(image, aside));
            steps.Tool(tools.Rename(work, image));
            created = false;
        }
        catch when (created)
        {
            context.Runner.Run(tools.Rbd("snap", "purge", "--no-progress", "--image", work), CancellationToken.None);
            context.Runner.Run(tools.Remove(work), CancellationToken.None);
            throw;
        }
        if (plan.ReplacesExisting)
        {
            steps.Tool(tools.Rbd("snap", "purge", "--no-progress", "--image", aside));
            steps.Tool(tools.Remove(aside));
        }
    }

    private void RunIntoFile(CephRestorePlan plan, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        var temporary = SiblingFile.TemporaryFor(plan.TargetPath);
        try
        {
            using (var output = steps.DryRun ? null : Libc.Open(temporary, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000))
            {
                steps.Do($"Apply the {plan.Chain.Count} RBD diff(s) of backup set {plan.Manifest.Name}'s chain to a hidden sparse raw file beside {plan.TargetPath}, checking each diff's SHA-256 and snapshot names", () =>
                {
                    foreach (var link in plan.Chain)
                        ApplyDiff(link, output!, temporary, plan, progress, steps.Cancellation);
                });
                steps.Do("Flush it and read it back from the disk, comparing every block with the manifest", () =>
                {
                    RandomAccess.FlushToDisk(output!);
                    Libc.posix_fadvise(output!, 0, 0, 4); // POSIX_FADV_DONTNEED: read back from the disk, not the page cache
                    RequireBlocks(plan, ReadBack(output!, plan.Manifest.BlockSize, steps.Cancellation), RandomAccess.GetLength(output!), temporary);
                });
            }
            steps.Do(plan.ReplacesExisting ? $"Rename it over {plan.TargetPath}" : $"Rename it to {plan.TargetPath}", () => File.Move(temporary, plan.TargetPath, overwrite: true));
        }
        finally
        {
            if (!steps.DryRun)
                SiblingFile.Discard(temporary);
        }
    }

    /// <summary>One diff applied while its bytes are hashed; a hash or snapshot names other than the manifest's make the restore fail before the file is renamed.</summary>
    private static void ApplyDiff(BackupCatalog.Link link, Microsoft.Win32.SafeHandles.SafeFileHandle output, string temporary, CephRestorePlan plan,
        IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var path = Path.Combine(link.Directory, RbdBackupRecord.DiffFileName);
        var rbd = link.Manifest.Rbd!;
        using var file = UntrustedFile.OpenRegular(path, "RBD diff");
        using var stream = new FileStream(file.Handle, FileAccess.Read, 1 << 20);
        using var hashing = new HashingStream(stream);
        progress?.Report(new OperationProgress($"Restoring {Path.GetFileName(plan.TargetPath)}", $"applying {link.Manifest.Name}", 0, 0));
        var summary = new RbdDiffReader(hashing, path).Read(new SparseFileDiffSink(output, temporary), cancellationToken);
        if (hashing.Finish() != rbd.DiffSha256)
            throw new BackupDamagedException($"The diff file {path} of backup set {link.Manifest.Name} does not match its SHA-256: it was changed or damaged. Nothing was restored.", link.Directory);
        if (summary.ToSnapshot != rbd.Snapshot || summary.FromSnapshot != rbd.FromSnapshot || summary.SizeBytes != link.Manifest.SizeBytes)
            throw new BackupDamagedException($"The diff file {path} of backup set {link.Manifest.Name} is not the diff its manifest records (snapshots {summary.FromSnapshot ?? "none"} to {summary.ToSnapshot}, {summary.SizeBytes} bytes). Nothing was restored.", link.Directory);
    }

    private static void RequireDiffHash(BackupCatalog.Link link, string path)
    {
        if (CephVolumeBackup.Sha256Of(path) != link.Manifest.Rbd!.DiffSha256)
            throw new BackupDamagedException($"The diff file {path} of backup set {link.Manifest.Name} does not match its SHA-256: it was changed or damaged. Nothing was restored.", link.Directory);
    }

    /// <summary>The non-zero blocks of the written file (holes are not read), with their hashes.</summary>
    private static IReadOnlyList<BackupBlock> ReadBack(Microsoft.Win32.SafeHandles.SafeFileHandle file, int blockSize, CancellationToken cancellationToken)
    {
        var length = RandomAccess.GetLength(file);
        var scanner = new BlockScanner(file, length, blockSize);
        var blocks = new List<BackupBlock>();
        scanner.Scan(scanner.DataBlocks(), batch =>
        {
            blocks.AddRange(batch.Where(b => !b.IsZero).Select(b => new BackupBlock(b.Index, b.Length, b.Hash, null, 0)));
            return [];
        }, _ => { }, cancellationToken);
        return blocks;
    }

    /// <summary>The restored image holds exactly the manifest's blocks (index, length, hash) and zeros everywhere else, at the recorded size.</summary>
    private static void RequireBlocks(CephRestorePlan plan, IReadOnlyList<BackupBlock> read, long size, string what)
    {
        string? difference = size != plan.Manifest.SizeBytes ? $"it has {size} bytes, the set records {plan.Manifest.SizeBytes}" : null;
        if (difference is null)
        {
            var expected = plan.Manifest.Blocks.ToDictionary(b => b.Index);
            var got = read.ToDictionary(b => b.Index);
            var wrong = expected.Keys.Union(got.Keys).Order()
                .FirstOrDefault(i => !expected.TryGetValue(i, out var e) || !got.TryGetValue(i, out var g) || e.Hash != g.Hash || e.Length != g.Length, -1);
            if (wrong >= 0)
                difference = $"block {wrong} (image offset {wrong * plan.Manifest.BlockSize}) does not read back as the manifest records";
        }
        if (difference is not null)
            throw new BackupDamagedException(
                $"Restoring backup set {plan.SetDirectory} to {plan.TargetPath} failed its check: {what} {difference}. The target was left as it was.", plan.SetDirectory);
    }

    /// <summary>Hashes the non-zero blocks of a full diff read from a pipe, whose records come in order.</summary>
    private sealed class StreamedBlocks(int blockSize) : IRbdDiffSink
    {
        private readonly byte[] current = new byte[blockSize];
        private long index = -1;
        public List<BackupBlock> Blocks { get; } = [];
        public long SizeBytes { get; private set; }

        public void Resize(long sizeBytes) => SizeBytes = sizeBytes;

        public void Data(long offset, ReadOnlySpan<byte> bytes)
        {
            while (bytes.Length > 0)
            {
                var block = offset / blockSize;
                if (block != index)
                {
                    Finish();
                    index = block;
                }
                var at = (int)(offset - block * blockSize);
                var length = Math.Min(bytes.Length, blockSize - at);
                bytes[..length].CopyTo(current.AsSpan(at));
                offset += length;
                bytes = bytes[length..];
            }
            if (offset % blockSize == 0 || offset == SizeBytes)
                Finish();
        }

        public void Zero(long offset, long length) { }

        private void Finish()
        {
            if (index < 0)
                return;
            var data = current.AsSpan(0, (int)Math.Min(blockSize, SizeBytes - index * blockSize));
            if (data.ContainsAnyExcept((byte)0))
                Blocks.Add(new BackupBlock(index, data.Length, BlockScanner.HashOf(data), null, 0));
            current.AsSpan().Clear();
            index = -1;
        }

        /// <summary>Called once the reader is done: the last block is complete.</summary>
        public IReadOnlyList<BackupBlock> Complete()
        {
            Finish();
            return Blocks;
        }
    }
}
