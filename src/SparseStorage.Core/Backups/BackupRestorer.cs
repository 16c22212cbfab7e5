using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Backups;

/// <summary>A validated restore: which set, and which file it rebuilds (replacing the volume there, if one is).</summary>
public sealed record RestorePlan(string SetDirectory, string TargetPath, BackupManifest Manifest, IReadOnlyList<BackupCatalog.Link> Chain) : OperationPlan
{
    /// <summary>Whether the set carries a signature (manifest.hmac); it was verified when the plan was made with a key.</summary>
    public bool IsSigned { get; init; }
    /// <summary>Whether the plan checked the set's signature with a key.</summary>
    public bool SignatureVerified { get; init; }
    /// <summary>Whether a file is at the target, whose content the restore replaces.</summary>
    public bool ReplacesExisting { get; init; }

    public override string Target => TargetPath;

    public override string Action => ReplacesExisting
        ? $"Replace {TargetPath} with backup set {Manifest.Name}, losing what was written to it since"
        : $"Restore backup set {Manifest.Name} to {TargetPath}";

    public override IReadOnlyList<string> Steps =>
    [
        $"Write the {ByteSize.Format(Manifest.SizeBytes)} {Manifest.VolumeFormat} image of backup set {Manifest.Name}{(Chain.Count > 1 ? $" and the {Chain.Count - 1} set(s) before it" : "")} into a hidden file beside {TargetPath}, verifying every block",
        "Flush it and read it back from the disk, checking its size, format and every block",
        ReplacesExisting ? $"Rename it over {TargetPath}" : $"Rename it to {TargetPath}",
    ];

    public override string? ConfirmationQuery => ReplacesExisting
        ? $"The content of {TargetPath} is replaced by backup set {Manifest.Name} of {DateTime.SpecifyKind(Manifest.CreatedUtc, DateTimeKind.Utc):u}; everything written to it since is lost. Restore it?"
        : null;
}

/// <summary>
/// Rebuilds an image from a backup set and its chain: sparse (holes and zero blocks are not written), every block
/// checked against its SHA-256 before it is written, into a hidden file beside the target that is flushed and
/// renamed only when the whole image is verified. Anything damaged stops the restore and leaves the target as it was.
/// The set is untrusted input: its signature is checked when a key is given, its numbers are bounded, it writes only
/// where <see cref="RestoreTarget"/> allows, and the written image must be of the recorded format and read back to
/// the recorded hashes before it replaces anything.
/// </summary>
public sealed class BackupRestorer(StorageContext context)
{
    /// <summary>Checks the chain (signature, manifests, checksums, data files present and long enough) and where the image goes.</summary>
    public RestorePlan Plan(string setDirectory, string? destination, BackupSignaturePolicy? signature = null)
    {
        var set = BackupCatalog.RequireSet(Path.GetFullPath(setDirectory));
        var chain = BackupCatalog.Chain(set, signature);
        BackupCatalog.RequireDataFiles(chain);
        var manifest = chain[^1].Manifest;
        if (manifest.Rbd is not null)
            throw new InvalidStorageArgumentException("CephBackupSet", $"Backup set {set} is of an RBD image ({manifest.VolumePath}); it is restored by Ceph.CephBackupRestorer.", set);
        BackupManifestBounds.Require(manifest, set);
        var path = RestoreTarget.Resolve(context, manifest, set, destination);
        RequireRestorable(path);
        var signed = BackupSignature.IsSigned(set);
        return new RestorePlan(set, path, manifest, chain)
        {
            Impact = PlanImpact.High,
            ReplacesExisting = File.Exists(path),
            IsSigned = signed,
            SignatureVerified = signed && signature is not null,
            Warnings = SignatureWarnings(set, signed, signature is not null),
        };
    }

    private static IReadOnlyList<string> SignatureWarnings(string set, bool signed, bool keyGiven) => (signed, keyGiven) switch
    {
        (false, true) => [$"Backup set {set} is not signed (-AllowUnsigned): nothing shows that it was not changed since it was made."],
        (true, false) => [$"Backup set {set} is signed, but no -IntegrityKeyFile was given: its signature was not checked, only its checksums, which guard against damage, not tampering."],
        _ => [],
    };

    /// <summary>
    /// Rebuilds the image under the target's lock, after checking that the set's chain and the target are as the plan
    /// saw them.
    /// </summary>
    public SparseVolume Apply(RestorePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.TargetPath, cancellationToken);
        RequireUnchanged(plan);
        var steps = StepRunner.ForApply(context, progress, $"Restoring {Path.GetFileName(plan.TargetPath)}", cancellationToken);
        var temporary = SiblingFile.TemporaryFor(plan.TargetPath);
        try
        {
            using (var output = Libc.Open(temporary, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000))
            {
                steps.Do(plan.Steps[0], () =>
                {
                    if (Libc.ftruncate(output, plan.Manifest.SizeBytes) != 0)
                        throw Libc.ErrnoException($"cannot size {temporary}");
                    WriteBlocks(plan, output, progress, cancellationToken);
                });
                steps.Do(plan.Steps[1], () =>
                {
                    RandomAccess.FlushToDisk(output);
                    RestoredImage.RequireAsRecorded(plan, output, temporary, cancellationToken);
                });
            }
            steps.Do(plan.Steps[2], () => File.Move(temporary, plan.TargetPath, overwrite: true));
        }
        finally
        {
            SiblingFile.Discard(temporary);
        }
        return new VolumeCatalog(context).Get(plan.TargetPath);
    }

    /// <summary>The chain still reads as planned (same manifests), and the target may still be replaced and is still there, or still absent.</summary>
    private void RequireUnchanged(RestorePlan plan)
    {
        RequireRestorable(plan.TargetPath);
        var chain = BackupCatalog.Chain(plan.SetDirectory);
        if (!chain.Select(l => l.Checksum).SequenceEqual(plan.Chain.Select(l => l.Checksum)) || File.Exists(plan.TargetPath) != plan.ReplacesExisting)
            throw new StorageOperationException("ChangedSincePlanned",
                $"Backup set {plan.SetDirectory} or the restore target {plan.TargetPath} changed after the plan was made ({plan.Describe()}); nothing was restored. Run the command again.", plan.SetDirectory);
    }

    private static void WriteBlocks(RestorePlan plan, SafeFileHandle output, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var sources = plan.Chain.ToDictionary(l => l.Manifest.Name, l => Libc.Open(Path.Combine(l.Directory, BackupManifest.DataFileName), Libc.O_RDONLY | Libc.O_CLOEXEC, 0));
        try
        {
            var buffer = GC.AllocateUninitializedArray<byte>(plan.Manifest.BlockSize);
            var stored = plan.Manifest.Blocks.Where(b => b.Set is not null).ToList();
            long done = 0, total = stored.Sum(b => (long)b.Length);
            foreach (var block in stored)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var data = buffer.AsSpan(0, block.Length);
                if (RandomAccess.Read(sources[block.Set!], data, block.Offset) != block.Length || BlockScanner.HashOf(data) != block.Hash)
                    throw new BackupDamagedException(
                        $"Block {block.Index} (image offset {block.Index * plan.Manifest.BlockSize}) stored in backup set {block.Set} at offset {block.Offset} is damaged: its content does not match its SHA-256. Nothing was restored.",
                        Path.Combine(Path.GetDirectoryName(plan.SetDirectory)!, block.Set!));
                RandomAccess.Write(output, data, block.Index * plan.Manifest.BlockSize);
                done += block.Length;
                progress?.Report(new OperationProgress($"Restoring {Path.GetFileName(plan.TargetPath)}", $"{ByteSize.Format(done)} of {ByteSize.Format(total)} verified and written", done, total));
            }
        }
        finally
        {
            foreach (var handle in sources.Values)
                handle.Dispose();
        }
    }

    /// <summary>A restore may replace an existing volume (it is what a restore is for), but never one in use, a base image or one with snapshots.</summary>
    private void RequireRestorable(string target) => VolumeReplacement.RequireReplaceable(context, target, force: true);
}
