using SparseStorage.Core.Native;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// Decrypts a volume back to a plain image of the same format: written beside it, verified, flushed, renamed over
/// it. A raw LUKS image's plaintext is read only where the image holds data (its holes were never written and become
/// holes again); qcow2+LUKS goes through qemu-img convert and is compared with qemu-img compare.
/// </summary>
public sealed class VolumeUnprotector(StorageContext context)
{
    public IReadOnlyList<string> Plan(SparseVolume volume) =>
        Run(volume, [], dryRun: true, null, CancellationToken.None).Steps;

    public SparseVolume Unprotect(SparseVolume volume, IReadOnlyList<VolumeKey> keys, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Unprotecting a volume");
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        Run(new VolumeCatalog(context).Get(volume.Path), keys, dryRun: false, progress, cancellationToken);
        return new VolumeCatalog(context).Get(volume.Path);
    }

    private StepRunner Run(SparseVolume current, IReadOnlyList<VolumeKey> keys, bool dryRun, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var header = VolumeUnlocker.RequireEncrypted(current);
        if (current.IsAttached)
            throw new VolumeInUseException($"Volume '{current.Name}' is {(current.IsMounted ? $"mounted at {current.MountPoint}" : current.IsUnlocked ? "unlocked" : "attached")}; lock it (Lock-Volume -Dismount) before removing its encryption.", current);
        var steps = new StepRunner(context.Runner, dryRun, progress, $"Unprotecting {current.Name}", cancellationToken);
        var temporary = SiblingFile.TemporaryFor(current.Path);
        try
        {
            if (header.Container == EncryptionContainer.Qcow2Luks)
                DecryptQcow2(current, temporary, keys, steps);
            else
                DecryptRaw(current, header, temporary, keys, steps, progress);
            PlaintextReplacement.Replace(temporary, current.Path, wipeOld: false, steps, progress);
        }
        catch
        {
            SiblingFile.Discard(temporary);
            throw;
        }
        return steps;
    }

    private void DecryptRaw(SparseVolume volume, ContainerHeader header, string temporary, IReadOnlyList<VolumeKey> keys, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        steps.Do($"create {temporary} (sparse, {ByteSize.Format(volume.SizeBytes)})", () =>
        {
            using var file = Libc.Open(temporary, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000);
            RandomAccess.SetLength(file, volume.SizeBytes);
        });
        var ranges = steps.Measure($"list the allocated extents of {volume.Path} after its LUKS header", () => WrittenPlaintext(volume, header), []);
        var transfer = new ViewTransfer(context, steps, progress);
        transfer.Read(volume.Path, header, keys, temporary, ranges, $"decrypt {ByteSize.Format(ranges.Sum(r => r.Length))} of written data of {volume.Path} into {temporary}");
        var key = steps.Measure("find the key that opens the volume", () => KeyProbe.KeyThatOpens(context.Runner, volume.Path, header, keys, steps.Cancellation), null);
        transfer.Verify(volume.Path, header, key!, temporary, ranges, $"verify {temporary} against the decrypted volume");
    }

    private void DecryptQcow2(SparseVolume volume, string temporary, IReadOnlyList<VolumeKey> keys, StepRunner steps)
    {
        var key = steps.DryRun ? null : KeyProbe.KeyThatOpens(context.Runner, volume.Path, VolumeUnlocker.RequireEncrypted(volume), keys, steps.Cancellation);
        using var secret = steps.DryRun ? SecretFile.Placeholder() : new SecretFile(key!);
        steps.Tool(QemuCrypto.Decrypt(volume.Path, temporary, steps.DryRun ? 65536 : VolumeProtector.ClusterSizeOf(volume.Path), secret));
        var comparison = steps.Tool(QemuCrypto.Compare(temporary, volume.Path, secret));
        if (comparison.ExitCode != 0)
            throw new StorageOperationException("VerificationFailed", $"The decrypted copy of '{volume.Name}' does not match it ({comparison.StandardOutput.Trim()}); the volume was left unchanged.", volume);
    }

    /// <summary>The plaintext ranges backed by data in the container: its data extents past the payload offset, shifted to plaintext offsets.</summary>
    private static IReadOnlyList<SparseFile.Extent> WrittenPlaintext(SparseVolume volume, ContainerHeader header)
    {
        using var image = Libc.Open(volume.Path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        var payload = header.Luks.PayloadOffset;
        var shifted = SparseFile.DataExtents(image, RandomAccess.GetLength(image))
            .Where(e => e.End > payload)
            .Select(e => new SparseFile.Extent(Math.Max(e.Offset, payload) - payload, e.End - Math.Max(e.Offset, payload)));
        return PlaintextTransfer.Align(shifted, volume.SizeBytes);
    }
}
