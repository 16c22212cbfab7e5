using System.Security.Cryptography;
using SparseStorage.Core.Backups;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>A backup of a volume of a Ceph pool as planned: the new RBD snapshot, the set it builds on, and the snapshots and sets it lets go.</summary>
public sealed record CephBackupPlan(SparseVolume Volume, string Image, string Destination, string? ParentDirectory, WriteConsistency Consistency) : OperationPlan
{
    public int? Keep { get; init; }
    public BackupIntegrityKey? IntegrityKey { get; init; }
    public bool AllowUnpausedWrites { get; init; }
    /// <summary>The RBD snapshot of the parent set, which the new diff starts from (null for a full set).</summary>
    public string? ParentSnapshot { get; init; }
    /// <summary>
    /// This destination's backup snapshots of the image that no set will start from again: all but the parent set's.
    /// Their removal starts as the new snapshot is taken, so the monitors commit both changes in one round.
    /// </summary>
    public IReadOnlyList<string> ExpiredSnapshots { get; init; } = [];
    /// <summary>The sets -Keep removes once the new set is complete (none without -Keep).</summary>
    public RemoveBackupSetsPlan? Retention { get; init; }
    public BackupKind Kind => ParentDirectory is null ? BackupKind.Full : BackupKind.Incremental;
    public string VolumeFolder => BackupCatalog.VolumeFolder(Destination, Volume.Name);

    internal IReadOnlyList<string> SetsSeen { get; init; } = [];

    public override string Target => Volume.Path;
    public override string Action =>
        $"{(Kind == BackupKind.Full ? "Full backup" : $"Incremental backup on {Path.GetFileName(ParentDirectory)} (RBD changes since snapshot {ParentSnapshot})")} of {Volume.Path} into {VolumeFolder}";
}

/// <summary>
/// Backups of volumes of Ceph pools from RBD's own change tracking. A full set is an RBD snapshot and its diff from
/// nothing; an incremental is a new snapshot and its diff from the parent set's snapshot, so only what changed since is
/// read from the cluster. The diff is written in this process through librbd in <c>rbd export-diff --whole-object</c>'s
/// format (<see cref="RbdImageHandle.WriteDiff"/>), by <c>rbd export-diff</c> only where librbd is missing. The set keeps the diff
/// (diff.rbd) beside a manifest of the usual kind — sets, chains, retention, signatures and Get-/Remove-VolumeBackup
/// are those of file volumes — whose block list (<see cref="RbdDiffBlocks"/>) lets a restore be checked byte for byte.
/// The image keeps two backup snapshots per destination: the newest, which the next incremental starts from, and the
/// one the newest set started from. A backup removes the older one while it takes its own snapshot: every snapshot
/// change waits for a commit of the monitors, which they make at most about once a second (paxos_propose_interval), and
/// changes sent together share one commit, where a removal after the diff would wait a second round. Snapshots are
/// named <c>sparsestorage_backup_&lt;destination key&gt;_&lt;set time&gt;</c>, so two destinations never remove each other's.
/// </summary>
public sealed class CephVolumeBackup(StorageContext context) : IPlannedOperation<(SparseVolume Volume, BackupRequest Request), CephBackupPlan, VolumeBackup>
{
    public const string SnapshotPrefix = "sparsestorage_backup_";

    public CephBackupPlan Plan((SparseVolume Volume, BackupRequest Request) backup)
    {
        var (volume, request) = backup;
        var (pool, image) = CephImages.Resolve(context, volume.Path);
        var destination = new VolumeBackupService(context).RequireWritableDestination(volume, request.Destination);
        BackupCatalog.RequireSameVolume(destination, volume);
        var folder = BackupCatalog.VolumeFolder(destination, volume.Name);
        var attachment = context.ReadAttachments().Of(volume.Path);
        var consistency = FileSystemFreeze.Assess(volume, attachment);
        var state = CephImages.State(context, pool, image, watchers: consistency == WriteConsistency.Detached);
        var snapshots = state.Snapshots.ToHashSet(StringComparer.Ordinal);
        var warnings = new List<string>(consistency == WriteConsistency.Detached
            ? new CephSnapshots(context).ElsewhereOpen(volume, pool, image, request.AllowUnpausedWrites, "the backup set", ref consistency, state.Watchers)
            : UnpausedWrites.Check(volume, attachment, consistency, request.AllowUnpausedWrites, "the backup set", "back it up"));
        var parent = request.Full ? null : BackupCatalog.NewestSound(destination, volume, request.IntegrityKey);
        var parentSnapshot = parent is null ? null : BackupManifest.Load(parent).Manifest.Rbd?.Snapshot;
        if (parent is not null && (parentSnapshot is null || !snapshots.Contains(parentSnapshot)))
        {
            warnings.Add($"The newest backup set {Path.GetFileName(parent)} of '{volume.Name}' cannot be built on: its RBD snapshot {parentSnapshot ?? "(none)"} is no longer on the image; this backup is full.");
            (parent, parentSnapshot) = (null, null);
        }
        if (consistency == WriteConsistency.Frozen)
            context.RequireRoot($"Freezing {attachment.MountPoints[0]} to back it up");
        var plan = new CephBackupPlan(volume, image, destination, parent, consistency)
        {
            Keep = request.Keep, IntegrityKey = request.IntegrityKey, AllowUnpausedWrites = request.AllowUnpausedWrites, ParentSnapshot = parentSnapshot,
            ExpiredSnapshots = snapshots.Where(s => s.StartsWith(SnapshotPrefixOf(folder), StringComparison.Ordinal) && s != parentSnapshot).Order(StringComparer.Ordinal).ToList(),
            Retention = request.Keep is { } keep ? new BackupSetService(context).PlanKeep(folder, keep, beforeNewSet: true, parent is null ? null : Path.GetFileName(parent)) : null,
            SetsSeen = BackupSetService.Fingerprint(folder), Warnings = warnings,
        };
        var steps = StepRunner.ForPlan(context);
        Run(plan, pool.Tools, attachment, steps, null);
        return plan with { Steps = steps.Steps };
    }

    /// <summary>
    /// Writes the set under the volume's lock and its backup folder's lock, after checking that the volume is used as
    /// the plan saw and the folder holds the same sets. A parent snapshot removed since the plan makes the diff
    /// fail; the new snapshot is then removed again and nothing is written.
    /// </summary>
    public VolumeBackup Apply(CephBackupPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        using var folderLock = new BackupSetService(context).LockFolder(plan.VolumeFolder, cancellationToken);
        var attachment = context.ReadAttachments().Of(plan.Volume.Path);
        var consistency = FileSystemFreeze.Assess(plan.Volume, attachment);
        if (consistency != plan.Consistency && !(plan.Consistency == WriteConsistency.Unfrozen && consistency == WriteConsistency.Detached))
            throw new StorageOperationException("ChangedSincePlanned",
                $"Volume '{plan.Volume.Name}' is {attachment.Describe()} now, which changes how it is backed up ({plan.Describe()}); nothing was backed up. Run the command again.", plan.Volume.Path);
        BackupSetService.RequireUnchanged(plan.VolumeFolder, plan.SetsSeen);
        var (pool, _) = CephImages.Resolve(context, plan.Volume.Path);
        return Run(plan, pool.Tools, attachment, StepRunner.ForApply(context, progress, $"Backing up {plan.Volume.Name}", cancellationToken), progress)!;
    }

    /// <summary>The prefix of the backup snapshots one backup folder keeps on its images.</summary>
    public static string SnapshotPrefixOf(string volumeFolder) =>
        SnapshotPrefix + FuseExportRecord.KeyFor(Native.LibcPaths.RealPath(volumeFolder) ?? Path.GetFullPath(volumeFolder))[..12] + "_";

    /// <summary>The backup as steps, for real or as a dry run that changes nothing (and returns null).</summary>
    private VolumeBackup? Run(CephBackupPlan plan, CephTools tools, VolumeAttachment attachment, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        var parent = plan.ParentDirectory is null ? null
            : BackupCatalog.Chain(plan.ParentDirectory, plan.IntegrityKey is null ? null : new BackupSignaturePolicy(plan.IntegrityKey, AllowUnsigned: false));
        if (parent is not null)
            BackupCatalog.RequireDiffFiles(parent);
        var started = DateTime.UtcNow;
        var folder = plan.VolumeFolder;
        var name = steps.DryRun ? OperationPlan.Measured("UTC start time") + (plan.Kind == BackupKind.Full ? "-full" : "-incr") : BackupCatalog.NewSetName(started, plan.Kind);
        // Placeholders in command lines stand for a whole argument, which a command line quotes as one.
        var snapshot = steps.DryRun ? OperationPlan.Measured(SnapshotPrefixOf(folder) + "TIME") : SnapshotPrefixOf(folder) + name[..name.LastIndexOf('-')];
        if (!steps.DryRun)
        {
            Directory.CreateDirectory(folder);
            new Leftovers.LeftoverSweeper(context).SweepDirectory(folder);
        }
        var work = SiblingFile.TemporaryIn(folder, plan.Kind == BackupKind.Full ? "full" : "incr");
        var diff = Path.Combine(work, RbdBackupRecord.DiffFileName);
        string Shown(string text) => steps.DryRun ? SiblingFile.AsPlanned(text, work) : text;
        var snapshotTaken = false;
        // Connected before any pause: connecting to the cluster is most of what taking a snapshot costs.
        using var snapshots = new RbdSnapshotWriter(context, tools, plan.Image, connect: !steps.DryRun);
        try
        {
            foreach (var expired in plan.ExpiredSnapshots)
                steps.Do($"Remove RBD snapshot {expired} of image {plan.Image} while the next snapshot is taken (one commit of the monitors for both)",
                    () => snapshots.StartRemoving(expired));
            UnpausedWrites.PausedAround(steps, plan.Consistency, attachment, () =>
            {
                steps.Do($"Take RBD snapshot {snapshot} of image {plan.Image}", () => snapshots.Create(snapshot));
                snapshotTaken = !steps.DryRun;
            });
            var export = tools.ExportDiff(plan.Image, snapshot, plan.ParentSnapshot, diff);
            steps.Do(Shown(RbdImageHandle.Available ? DiffStep(plan.Image, snapshot, plan.ParentSnapshot, diff) : export.ToString()), () =>
            {
                Directory.CreateDirectory(work);
                snapshots.WriteDiff(plan.ParentSnapshot, snapshot, diff, export, steps.Cancellation);
            });
            var final = Path.Combine(folder, name);
            steps.Do($"Hash the diff and the blocks it changes, write the set's manifest{(plan.IntegrityKey is { } key ? $" signed with the key in {key.Path}" : "")} and rename the set to {final}", () =>
            {
                var (described, diffSha256) = Describe(plan, name, started, diff, parent, steps.Cancellation);
                var manifest = described with { Rbd = new RbdBackupRecord(snapshot, plan.ParentSnapshot, new FileInfo(diff).Length, diffSha256) };
                manifest.Save(work, plan.IntegrityKey);
                Directory.Move(work, final);
            });
        }
        catch
        {
            snapshots.AbandonRemovals();
            if (snapshotTaken)
                snapshots.TryRemove(snapshot);
            if (Directory.Exists(work))
                Directory.Delete(work, recursive: true);
            if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
                Directory.Delete(folder);
            throw;
        }
        // The set is complete: a failed removal of an expired snapshot is reported now, then what -Keep lets go goes.
        snapshots.FinishRemovals();
        if (plan.Retention is { } retention)
            BackupSetService.Remove(retention, steps);
        return steps.DryRun ? null : BackupCatalog.Describe(Path.Combine(folder, name));
    }

    /// <summary>The step that writes the diff in this process, in the words of <c>rbd export-diff --whole-object</c>, whose output it is.</summary>
    internal static string DiffStep(string image, string snapshot, string? fromSnapshot, string path) =>
        $"Write the RBD diff of image {image} at snapshot {snapshot}{(fromSnapshot is null ? "" : $" since snapshot {fromSnapshot}")} into {path} through librbd, as rbd export-diff --whole-object writes it";

    /// <summary>The set's manifest (without its RBD record) and the diff's SHA-256, from one read of the new diff.</summary>
    private static (BackupManifest Manifest, string DiffSha256) Describe(CephBackupPlan plan, string name, DateTime started, string diff, IReadOnlyList<BackupCatalog.Link>? parent, CancellationToken cancellationToken)
    {
        var parentManifest = parent?[^1].Manifest;
        var diffs = (parent ?? []).Select(l => Path.Combine(l.Directory, RbdBackupRecord.DiffFileName)).Append(diff).ToList();
        var (blocks, summary, diffSha256) = RbdDiffBlocks.After(diffs, parentManifest?.Blocks ?? [], parentManifest?.SizeBytes ?? 0, BackupManifest.DefaultBlockSize, cancellationToken);
        return (new BackupManifest
        {
            Name = name, Volume = plan.Volume.Name, VolumePath = plan.Volume.Path, Pool = plan.Volume.Pool, VolumeFormat = VolumeFormat.Raw, Kind = plan.Kind,
            Parent = parent is null ? null : Path.GetFileName(parent[^1].Directory), ParentChecksum = parent?[^1].Checksum,
            CreatedUtc = started, Consistency = plan.Consistency, BlockSize = BackupManifest.DefaultBlockSize, SizeBytes = summary.SizeBytes,
            StoredBytes = new FileInfo(diff).Length, ChangeDetection = ChangeDetection.RbdDiff, ReadBytes = summary.DataBytes,
            Blocks = blocks,
        }, diffSha256);
    }

    internal static string Sha256Of(string path)
    {
        using var file = UntrustedFile.OpenRegular(path, "RBD diff");
        using var stream = new FileStream(file.Handle, FileAccess.Read, 1 << 20);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }
}

/// <summary>The Ceph pool and image of a volume path, and an image's snapshots.</summary>
internal static class CephImages
{
    public static (CephPool Pool, string Image) Resolve(StorageContext context, string volumePath)
    {
        foreach (var definition in context.Pools.Definitions().Where(d => d.IsCeph))
            if (definition.Ceph!.ImageOf(volumePath) is { } image)
                return (new CephPool(context.Runner, definition), image);
        throw new PathOutsidePoolException($"'{volumePath}' names no image of a registered Ceph pool.", volumePath);
    }

    public static IReadOnlyList<RbdSnapshot> Snapshots(StorageContext context, CephPool pool, string image) =>
        RbdSnapshotCommands.Snapshots(context.Runner.RunChecked(pool.Tools.ListSnapshots(image)).StandardOutput);

    /// <summary>
    /// The names of the image's snapshots and, when asked, its watchers, read in this process over one librbd connection
    /// (an rbd process spends most of its time connecting). Where librbd is missing or fails here, the rbd commands
    /// are asked instead, and their errors are the ones reported.
    /// </summary>
    public static (IReadOnlyList<string> Snapshots, IReadOnlyList<string>? Watchers) State(StorageContext context, CephPool pool, string image, bool watchers)
    {
        try
        {
            using var handle = RbdImageHandle.Open(pool.Settings, image, readOnly: true);
            return (handle.SnapshotNames(), watchers ? handle.WatcherAddresses() : null);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException)
        {
            return (Snapshots(context, pool, image).Select(s => s.Name).ToList(),
                watchers ? CephListing.Watchers(context.Runner.RunChecked(pool.Tools.Status(image)).StandardOutput) : null);
        }
    }
}

/// <summary>
/// Takes and removes snapshots of one image through a librbd connection of this process, opened once, so a backup
/// spends no rbd process and no second connection on them. Where librbd is missing or cannot open the image, the rbd
/// commands do it instead.
/// </summary>
internal sealed class RbdSnapshotWriter : IDisposable
{
    private readonly StorageContext context;
    private readonly CephTools tools;
    private readonly string image;
    private readonly List<Task> removals = [];
    private RbdImageHandle? handle;
    private bool connected;

    public RbdSnapshotWriter(StorageContext context, CephTools tools, string image, bool connect)
    {
        (this.context, this.tools, this.image) = (context, tools, image);
        if (connect)
            Connect();
    }

    public void Create(string name) => Run(h => h.CreateSnapshot(name), tools.CreateSnapshot(image, name), $"take snapshot {name} of image {image}");

    public void Remove(string name) => Run(h => h.RemoveSnapshot(name), tools.RemoveSnapshot(image, name), $"remove snapshot {name} of image {image}");

    /// <summary>Starts removing a snapshot on a thread of its own; <see cref="FinishRemovals"/> waits for it.</summary>
    public void StartRemoving(string name) => removals.Add(Task.Run(() => Remove(name)));

    /// <summary>Waits for the removals started and throws the first failure.</summary>
    public void FinishRemovals()
    {
        try
        {
            Task.WaitAll([.. removals]);
        }
        catch (AggregateException e)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
        finally
        {
            removals.Clear();
        }
    }

    /// <summary>Waits for the removals started while cleaning up after a failure: their failures must not hide it.</summary>
    public void AbandonRemovals()
    {
        try
        {
            FinishRemovals();
        }
        catch (SparseStorageException)
        {
        }
    }

    /// <summary>Removes a snapshot while cleaning up after a failure: a second failure must not hide the first.</summary>
    public void TryRemove(string name)
    {
        try
        {
            Remove(name);
        }
        catch (SparseStorageException)
        {
        }
    }

    /// <summary>
    /// Writes the diff of the image from <paramref name="fromSnapshot"/> to <paramref name="snapshot"/> into a new file
    /// <paramref name="path"/> over this connection; where librbd cannot open the image here, <paramref name="export"/>
    /// (rbd export-diff) writes it instead.
    /// </summary>
    public void WriteDiff(string? fromSnapshot, string snapshot, string path, ToolCommand export, CancellationToken cancellationToken)
    {
        if (!connected)
            Connect();
        if (handle is null)
        {
            context.Runner.RunChecked(export, cancellationToken);
            return;
        }
        try
        {
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
            handle.WriteDiff(fromSnapshot, snapshot, file, cancellationToken);
        }
        catch (IOException e)
        {
            throw new StorageOperationException("CephDiffFailed", $"Could not write the diff of image {image} at snapshot {snapshot}{(fromSnapshot is null ? "" : $" since snapshot {fromSnapshot}")}: {e.Message}.", image, e);
        }
    }

    public void Dispose()
    {
        AbandonRemovals();
        handle?.Dispose();
    }

    private void Connect()
    {
        connected = true;
        try
        {
            handle = RbdImageHandle.Open(tools.Settings, image, readOnly: false);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException)
        {
            handle = null;
        }
    }

    private void Run(Action<RbdImageHandle> inProcess, ToolCommand command, string what)
    {
        if (!connected)
            Connect();
        if (handle is null)
        {
            context.Runner.RunChecked(command);
            return;
        }
        try
        {
            inProcess(handle);
        }
        catch (IOException e)
        {
            throw new StorageOperationException("CephSnapshotFailed", $"Could not {what}: {e.Message}.", image, e);
        }
    }
}

/// <summary>The rbd command lines of diffs between snapshots.</summary>
public static class RbdDiffCommands
{
    /// <summary>
    /// <c>rbd export-diff</c> of the image at <paramref name="snapshot"/>, from <paramref name="fromSnapshot"/> (or from
    /// nothing) into a file, or "-" for standard output. --whole-object lets librbd find the changed objects in the
    /// image's object map (fast-diff) instead of asking every object of the image for its snapshots, which on a large
    /// image costs far more than the change itself; a changed object is then exported whole (4 MiB by default).
    /// </summary>
    public static ToolCommand ExportDiff(this CephTools tools, string image, string snapshot, string? fromSnapshot, string path) =>
        tools.Rbd(["export-diff", "--no-progress", "--whole-object", "--image", image, "--snap", snapshot,
            .. fromSnapshot is null ? Array.Empty<string>() : ["--from-snap", fromSnapshot], path]) with { Timeout = TimeSpan.FromHours(12) };

    /// <summary><c>rbd rename</c> within the pool (and namespace).</summary>
    public static ToolCommand Rename(this CephTools tools, string image, string newName) =>
        tools.Rbd("rename", "--image", image, "--dest", newName);

    /// <summary><c>rbd import-diff</c> of a diff file into an image (which must hold the diff's from-snapshot); it creates the diff's end snapshot.</summary>
    public static ToolCommand ImportDiff(this CephTools tools, string path, string image) =>
        tools.Rbd("import-diff", "--no-progress", path, "--image", image) with { Timeout = TimeSpan.FromHours(12) };
}
