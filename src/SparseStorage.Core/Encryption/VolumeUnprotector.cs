using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>What Unprotect-Volume was asked: the volume and the keys to try.</summary>
public sealed record UnprotectVolumeRequest(SparseVolume Volume, IReadOnlyList<VolumeKey> Keys);

/// <summary>The decryption of one volume: the key that opens it (found by the plan), the work file beside it, and the steps.</summary>
public sealed record UnprotectVolumePlan : OperationPlan
{
    public required SparseVolume Volume { get; init; }
    public required EncryptionContainer Container { get; init; }

    public override string Target => Volume.Path;
    public override string Action => $"Decrypt volume ({Volume.Encryption})";

    internal ContainerHeader Header { get; init; } = null!;
    internal VolumeKey OpeningKey { get; init; } = null!;
    internal ImageStamp Stamp { get; init; } = null!;
    /// <summary>The plaintext ranges the container holds data for (raw containers).</summary>
    internal IReadOnlyList<SparseFile.Extent> Ranges { get; init; } = [];
    internal long ClusterSize { get; init; }
}

/// <summary>
/// Decrypts a volume back to a plain image of the same format: written beside it, verified, flushed, renamed over
/// it. A raw LUKS image's plaintext is read only where the image holds data (its holes were never written and become
/// holes again); qcow2+LUKS goes through qemu-img convert and is compared with qemu-img compare.
/// </summary>
public sealed class VolumeUnprotector(StorageContext context) : IPlannedOperation<UnprotectVolumeRequest, UnprotectVolumePlan, SparseVolume>
{
    /// <summary>Checks the volume is locked and finds the key that opens it (a key derivation per key tried); changes nothing.</summary>
    public UnprotectVolumePlan Plan(UnprotectVolumeRequest request)
    {
        var volume = new VolumeCatalog(context).Get(request.Volume.Path);
        var header = RequireUnprotectable(volume);
        var qcow2 = header.Container == EncryptionContainer.Qcow2Luks;
        var plan = new UnprotectVolumePlan
        {
            Volume = volume,
            Container = header.Container,
            Header = header,
            OpeningKey = KeyProbe.KeyThatOpens(context.Runner, volume.Path, header, request.Keys, CancellationToken.None),
            Stamp = ImageStamp.Of(volume.Path),
            Ranges = qcow2 ? [] : WrittenPlaintext(volume, header),
            ClusterSize = qcow2 ? VolumeProtector.ClusterSizeOf(volume.Path) : 0,
            Impact = PlanImpact.High,
        };
        var dryRun = StepRunner.ForPlan(context);
        Run(plan, WorkFile.For(volume.Path), dryRun, null);
        return plan with { Steps = dryRun.Steps };
    }

    public SparseVolume Apply(UnprotectVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Unprotecting a volume");
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(plan.Volume.Path);
        RequireUnprotectable(current);
        PlanAssumption.RequireSameImage(current, plan.Stamp);
        var temporary = WorkFile.For(current.Path);
        try
        {
            Run(plan, temporary, StepRunner.ForApply(context, progress, $"Unprotecting {current.Name}", cancellationToken), progress);
        }
        catch
        {
            SiblingFile.Discard(temporary);
            throw;
        }
        return new VolumeCatalog(context).Get(current.Path);
    }

    private static ContainerHeader RequireUnprotectable(SparseVolume volume)
    {
        var header = VolumeUnlocker.RequireEncrypted(volume);
        if (volume.IsAttached)
            throw new VolumeInUseException($"Volume '{volume.Name}' is {(volume.IsMounted ? $"mounted at {volume.MountPoint}" : volume.IsUnlocked ? "unlocked" : "attached")}; lock it (Lock-Volume -Dismount) before removing its encryption.", volume);
        return header;
    }

    private void Run(UnprotectVolumePlan plan, string temporary, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        if (plan.Container == EncryptionContainer.Qcow2Luks)
            DecryptQcow2(plan, temporary, steps);
        else
            DecryptRaw(plan, temporary, steps, progress);
        PlaintextReplacement.Replace(temporary, plan.Volume.Path, wipeOld: false, steps, progress);
    }

    private void DecryptRaw(UnprotectVolumePlan plan, string temporary, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        var (volume, ranges) = (plan.Volume, plan.Ranges);
        steps.Do($"create {temporary} (sparse, {ByteSize.Format(volume.SizeBytes)})", () =>
        {
            using var file = Libc.Open(temporary, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000);
            RandomAccess.SetLength(file, volume.SizeBytes);
        });
        var transfer = new ViewTransfer(context, steps, progress);
        transfer.Read(volume.Path, plan.Header, [plan.OpeningKey], temporary, ranges, $"decrypt {ByteSize.Format(ranges.Sum(r => r.Length))} of written data of {volume.Path} into {temporary}");
        transfer.Verify(volume.Path, plan.Header, plan.OpeningKey, temporary, ranges, $"verify {temporary} against the decrypted volume");
    }

    private void DecryptQcow2(UnprotectVolumePlan plan, string temporary, StepRunner steps)
    {
        var volume = plan.Volume;
        steps.ToolWithSecrets([plan.OpeningKey], secrets => QemuCrypto.Decrypt(volume.Path, temporary, plan.ClusterSize, secrets[0]), Checked);
        var comparison = steps.ToolWithSecrets([plan.OpeningKey], secrets => QemuCrypto.Compare(temporary, volume.Path, secrets[0]), Checked);
        if (comparison.ExitCode != 0)
            throw new StorageOperationException("VerificationFailed", $"The decrypted copy of '{volume.Name}' does not match it ({comparison.StandardOutput.Trim()}); the volume was left unchanged.", volume);
    }

    private ToolResult Checked(ToolCommand command, CancellationToken cancellationToken) => context.Runner.RunChecked(command, cancellationToken);

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
