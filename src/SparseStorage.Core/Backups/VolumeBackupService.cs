using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Backups;

public sealed record BackupRequest
{
    /// <summary>The directory that holds backup sets (one folder per volume inside it).</summary>
    public required string Destination { get; init; }
    /// <summary>Store every block even when a sound earlier set exists.</summary>
    public bool Full { get; init; }
    /// <summary>Back up a volume whose writes cannot be paused (attached without a mount); the plan then warns.</summary>
    public bool AllowUnpausedWrites { get; init; }
    /// <summary>After the backup, keep only the newest N sets of the volume and what their chains need.</summary>
    public int? Keep { get; init; }
    /// <summary>Signs the set's manifest (manifest.hmac) and builds only on sets signed with the same key.</summary>
    public BackupIntegrityKey? IntegrityKey { get; init; }
}

/// <summary>What a backup will do: where, on top of which set, how the volume is kept consistent, and what -Keep removes after.</summary>
public sealed record BackupPlan(SparseVolume Volume, string Destination, string? ParentDirectory, WriteConsistency Consistency) : OperationPlan
{
    public int? Keep { get; init; }
    public BackupIntegrityKey? IntegrityKey { get; init; }
    public bool AllowUnpausedWrites { get; init; }
    /// <summary>Whether the pool's filesystem shares blocks, so that a point-in-time clone of the volume is read instead of the volume.</summary>
    public bool ReadsClone { get; init; }
    /// <summary>The sets -Keep removes once the new set is complete (none without -Keep).</summary>
    public RemoveBackupSetsPlan? Retention { get; init; }
    public BackupKind Kind => ParentDirectory is null ? BackupKind.Full : BackupKind.Incremental;
    public string VolumeFolder => BackupCatalog.VolumeFolder(Destination, Volume.Name);

    /// <summary>The folder's sets when the plan was made; Apply refuses if they changed.</summary>
    internal IReadOnlyList<string> SetsSeen { get; init; } = [];

    public override string Target => Volume.Path;
    public override string Action =>
        $"{(Kind == BackupKind.Full ? "Full backup" : $"Incremental backup on {Path.GetFileName(ParentDirectory)}")} of {ByteSize.Format(Volume.AllocatedBytes)} allocated data into {VolumeFolder}";
}

/// <summary>
/// Full and incremental backups of a volume's image file into backup sets. Each allocated 1 MiB block is read
/// and hashed; a block whose hash equals the parent set's for the same place is referred to, not stored again.
/// Where the pool's filesystem shares blocks, a point-in-time clone is read instead of the image, and blocks the
/// parent's clone proves unchanged are not read at all (<see cref="ChangeReferences"/>).
/// Holes are recorded by their absence; all-zero blocks by their hash alone. A set is written in a hidden
/// directory and renamed when complete. A backup holds the volume's lock and its backup folder's lock
/// (<see cref="BackupSetService.LockFolder"/>), so a removal in the same chain waits for it.
/// </summary>
public sealed class VolumeBackupService(StorageContext context)
{
    public BackupPlan Plan(SparseVolume volume, BackupRequest request)
    {
        var destination = RequireWritableDestination(volume, request.Destination);
        BackupCatalog.RequireSameVolume(destination, volume);
        var parent = request.Full ? null : BackupCatalog.NewestSound(destination, volume, request.IntegrityKey);
        var attachment = context.ReadAttachments().Of(volume.Path);
        var consistency = FileSystemFreeze.Assess(volume, attachment);
        var warnings = UnpausedWrites.Check(volume, attachment, consistency, request.AllowUnpausedWrites, "the backup set", "back it up");
        if (consistency == WriteConsistency.Frozen)
            context.RequireRoot($"Freezing {attachment.MountPoints[0]} to back it up");
        var folder = BackupCatalog.VolumeFolder(destination, volume.Name);
        var plan = new BackupPlan(volume, destination, parent, consistency)
        {
            Keep = request.Keep, IntegrityKey = request.IntegrityKey, AllowUnpausedWrites = request.AllowUnpausedWrites, Warnings = warnings,
            ReadsClone = StorageHostProbe.SupportsReflink(Path.GetDirectoryName(volume.Path)!),
            Retention = request.Keep is { } keep ? new BackupSetService(context).PlanKeep(folder, keep, beforeNewSet: true, parent is null ? null : Path.GetFileName(parent)) : null,
            SetsSeen = BackupSetService.Fingerprint(folder),
        };
        var steps = StepRunner.ForPlan(context);
        Run(plan, volume, attachment, steps, null);
        return plan with { Steps = steps.Steps };
    }

    /// <summary>
    /// Writes the set the plan describes under the volume's lock and its backup folder's lock, after checking that
    /// the volume's consistency and the folder's sets are what the plan saw.
    /// </summary>
    public VolumeBackup Apply(BackupPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        using var folderLock = new BackupSetService(context).LockFolder(plan.VolumeFolder, cancellationToken);
        var volume = new VolumeCatalog(context).Get(plan.Volume.Path);
        var attachment = context.ReadAttachments().Of(volume.Path);
        if (FileSystemFreeze.Assess(volume, attachment) != plan.Consistency)
            throw new StorageOperationException("ChangedSincePlanned",
                $"Volume '{volume.Name}' is {attachment.Describe()} now, which changes how it is backed up ({plan.Describe()}); nothing was backed up. Run the command again.", volume.Path);
        BackupSetService.RequireUnchanged(plan.VolumeFolder, plan.SetsSeen);
        return Run(plan, volume, attachment, StepRunner.ForApply(context, progress, $"Backing up {volume.Name}", cancellationToken), progress)!;
    }

    /// <summary>
    /// The backup as steps, run for real or as a dry run that changes nothing (and returns null): pause writes, clone
    /// where the filesystem shares blocks, read and store, complete the set, then remove what -Keep lets go.
    /// </summary>
    private VolumeBackup? Run(BackupPlan plan, SparseVolume volume, VolumeAttachment attachment, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        var parent = plan.ParentDirectory is null ? null
            : BackupCatalog.Chain(plan.ParentDirectory, plan.IntegrityKey is null ? null : new BackupSignaturePolicy(plan.IntegrityKey, AllowUnsigned: false))[^1];
        var started = DateTime.UtcNow;
        var folder = plan.VolumeFolder;
        var name = steps.DryRun ? OperationPlan.Measured("UTC start time") + (plan.Kind == BackupKind.Full ? "-full" : "-incr") : BackupCatalog.NewSetName(started, plan.Kind);
        var chainKey = ChangeReferences.ChainKey(folder);
        if (!steps.DryRun)
        {
            Directory.CreateDirectory(folder);
            new Leftovers.LeftoverSweeper(context).SweepDirectory(folder); // work directories of backups killed mid-way
        }
        var set = new SetToWrite(volume, name, plan.Kind, parent, SiblingFile.TemporaryIn(folder, name)) { Consistency = plan.Consistency };
        string? reference = null;
        try
        {
            BackupManifest? manifest = null;
            var readsClone = false;
            UnpausedWrites.PausedAround(steps, plan.Consistency, attachment, () =>
            {
                if (plan.ReadsClone)
                    steps.Do($"Clone {volume.Path} into a change reference in {ChangeReferences.FolderOf(volume.Path)}",
                        () => reference = ChangeReferences.TryTake(volume.Path, chainKey, name));
                readsClone = plan.ReadsClone && (steps.DryRun || reference is not null);
                if (!readsClone)
                    manifest = Read(set, volume.Path, volume.Path, () => null, steps, progress);
            });
            // With a point-in-time clone the filesystem is paused only while the clone is made; the clone is read at leisure.
            if (readsClone)
            {
                manifest = Read(set, reference!, "the clone", () => UnchangedSinceParent(reference!, parent, volume.Path), steps, progress);
                if (manifest is not null)
                    manifest = manifest with { ChangeReference = ChangeReferences.Stamp(reference!) };
            }
            var final = Path.Combine(folder, name);
            steps.Do($"Write the set's manifest{(plan.IntegrityKey is { } key ? $" signed with the key in {key.Path}" : "")} and rename the set to {final}", () =>
            {
                (manifest! with { CreatedUtc = started }).Save(set.Work, plan.IntegrityKey);
                Directory.Move(set.Work, final);
                if (reference is not null)
                    ChangeReferences.KeepOnly(volume.Path, chainKey, reference);
            });
        }
        catch
        {
            ChangeReferences.Discard(reference);
            if (Directory.Exists(set.Work))
                Directory.Delete(set.Work, recursive: true);
            if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
                Directory.Delete(folder);
            throw;
        }
        // The set is complete: a failed removal after this leaves it, and its change reference, in place.
        if (plan.Retention is { } retention)
            BackupSetService.Remove(retention, steps);
        return steps.DryRun ? null : BackupCatalog.Describe(Path.Combine(folder, name));
    }

    /// <summary>The step that reads the image at <paramref name="imagePath"/> into the set's work directory; null in a dry run.</summary>
    private static BackupManifest? Read(SetToWrite set, string imagePath, string source, Func<HashSet<long>?> unchanged, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        BackupManifest? manifest = null;
        var stored = set.Parent is null ? "all of them in a new full set" : $"those set {Path.GetFileName(set.Parent.Directory)} lacks in a new incremental set";
        steps.Do($"Read and hash the allocated blocks of {source}, storing {stored} in {Path.GetDirectoryName(set.Work)}", () =>
        {
            Directory.CreateDirectory(set.Work);
            manifest = WriteSet(set, imagePath, unchanged(), progress, steps.Cancellation);
        });
        return manifest;
    }

    private sealed record SetToWrite(SparseVolume Volume, string Name, BackupKind Kind, BackupCatalog.Link? Parent, string Work)
    {
        public WriteConsistency Consistency { get; init; }
    }

    /// <summary>
    /// The blocks the parent's reference clone proves unchanged in <paramref name="reference"/>, which is the clone
    /// just taken; null when there is nothing to compare with (no parent, or its reference is gone or was touched).
    /// </summary>
    private static HashSet<long>? UnchangedSinceParent(string reference, BackupCatalog.Link? parent, string volumePath)
    {
        if (parent is null || ChangeReferences.Find(volumePath, parent.Manifest.ChangeReference) is not { } previous)
            return null;
        using var current = Libc.Open(reference, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        using var before = Libc.Open(previous, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        return PhysicalExtents.Read(current) is { } now && PhysicalExtents.Read(before) is { } then
            ? UnchangedBlocks.Find(now, then, parent.Manifest.BlockSize)
            : null;
    }

    /// <summary>
    /// Reads the image at <paramref name="imagePath"/> (the volume, or a clone of it) into the set: blocks in
    /// <paramref name="unchanged"/> that the parent holds are taken from the parent's entries without reading;
    /// every other allocated block is read and hashed, and stored unless known. A null set means nothing could be
    /// compared, an empty one that nothing is proven unchanged.
    /// </summary>
    private static BackupManifest WriteSet(SetToWrite set, string imagePath, HashSet<long>? unchanged,
        IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var blockSize = set.Parent?.Manifest.BlockSize ?? BackupManifest.DefaultBlockSize;
        var previous = set.Parent?.Manifest.Blocks.ToDictionary(b => b.Index) ?? [];
        using var image = Libc.Open(imagePath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        var length = RandomAccess.GetLength(image);
        var scanner = new BlockScanner(image, length, blockSize);
        var entries = new List<BackupBlock>();
        var toRead = new List<long>();
        foreach (var index in scanner.DataBlocks())
        {
            if (unchanged is not null && unchanged.Contains(index) && previous.TryGetValue(index, out var old) && old.Length == Math.Min(blockSize, length - index * blockSize))
                entries.Add(old);
            else
                toRead.Add(index);
        }
        long scanned = 0, stored = 0, total = toRead.Sum(index => Math.Min(blockSize, length - index * blockSize));
        using var data = BackupDataFile.Create(Path.Combine(set.Work, BackupManifest.DataFileName), blockSize);
        scanner.Scan(toRead, batch =>
        {
            var toStore = new List<ScannedBlock>();
            foreach (var block in batch)
            {
                if (KnownWithoutStoring(block, previous) is { } known)
                    entries.Add(known);
                else
                {
                    entries.Add(new BackupBlock(block.Index, block.Length, block.Hash, set.Name, stored));
                    stored += block.Length;
                    toStore.Add(block);
                }
                scanned += block.Length;
            }
            progress?.Report(new OperationProgress($"Backing up {set.Volume.Name}", $"{ByteSize.Format(scanned)} of {ByteSize.Format(total)} read, {ByteSize.Format(stored)} stored", scanned, total));
            return toStore;
        }, data.Append, cancellationToken);
        data.Flush();
        return new BackupManifest
        {
            Name = set.Name, Volume = set.Volume.Name, VolumePath = set.Volume.Path, Pool = set.Volume.Pool, VolumeFormat = set.Volume.Format, Kind = set.Kind,
            Parent = set.Parent is null ? null : Path.GetFileName(set.Parent.Directory), ParentChecksum = set.Parent?.Checksum,
            CreatedUtc = DateTime.UtcNow, Consistency = set.Consistency, BlockSize = blockSize, SizeBytes = length,
            StoredBytes = data.Length, ChangeDetection = unchanged is null ? ChangeDetection.ReadAll : ChangeDetection.BlockMap, ReadBytes = total,
            Blocks = entries.OrderBy(b => b.Index).ToList(),
        };
    }

    /// <summary>An all-zero block is known by its hash alone, and one the parent holds unchanged by the parent's entry; null when the block must be stored.</summary>
    private static BackupBlock? KnownWithoutStoring(ScannedBlock block, Dictionary<long, BackupBlock> previous) =>
        block.IsZero ? new BackupBlock(block.Index, block.Length, block.Hash, null, 0)
        : previous.TryGetValue(block.Index, out var old) && old.Hash == block.Hash && old.Length == block.Length ? old
        : null;

    /// <summary>The destination must exist, be writable, and not lie inside the volume itself (its mount), where the backup would change what it copies.</summary>
    internal string RequireWritableDestination(SparseVolume volume, string destination)
    {
        var full = Path.GetFullPath(destination);
        if (!Directory.Exists(full))
            throw new InvalidStorageArgumentException("BackupDestinationNotFound", $"The backup destination '{destination}' does not exist; create the directory first.", destination);
        var resolved = LibcPaths.RealPath(full) ?? full;
        foreach (var mountPoint in context.ReadAttachments().Of(volume.Path).MountPoints)
            if (resolved == mountPoint || resolved.StartsWith(mountPoint.TrimEnd('/') + "/", StringComparison.Ordinal))
                throw new InvalidStorageArgumentException("BackupDestinationInsideVolume",
                    $"The backup destination '{destination}' lies inside volume '{volume.Name}' itself (mounted at {mountPoint}); choose a directory on another disk.", destination);
        if (Libc.WriteRefusal(resolved) is { } reason)
            throw new SparseStorageException("BackupDestinationNotWritable", StorageErrorKind.PermissionDenied,
                $"The backup destination '{destination}' is not writable: {reason}.", destination);
        return resolved;
    }
}
