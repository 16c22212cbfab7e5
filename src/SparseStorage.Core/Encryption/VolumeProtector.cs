using SparseStorage.Core.Backups;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>What Protect-Volume was asked: the volume, its keys (each gets a slot), the container (default per volume format and host), PBKDF time, and whether to overwrite the old plaintext.</summary>
public sealed record ProtectVolumeRequest(SparseVolume Volume, IReadOnlyList<VolumeKey> Keys, EncryptionContainer? Container = null, int IterationTimeMilliseconds = 2000, bool WipePlaintext = false);

/// <summary>
/// The encryption of one volume: the container it becomes, the work file beside it, and the steps that write, verify
/// and rename it. It holds the keys for Apply, but shows only where they go (a secret file's placeholder or standard input).
/// </summary>
public sealed record ProtectVolumePlan : OperationPlan
{
    public required SparseVolume Volume { get; init; }
    public required EncryptionContainer Container { get; init; }

    public override string Target => Volume.Path;
    public override string Action => $"Encrypt volume as {Container}";

    internal ProtectVolumeRequest Request { get; init; } = null!;
    internal ImageStamp Stamp { get; init; } = null!;
    /// <summary>The plaintext ranges to encrypt (raw containers): the allocated extents, aligned.</summary>
    internal IReadOnlyList<SparseFile.Extent> Extents { get; init; } = [];
    internal long ClusterSize { get; init; }
    internal bool HasChangeReferences { get; init; }
}

/// <summary>
/// Encrypts a volume in place of its plain image: the encrypted image is written beside it, verified against the
/// plaintext, flushed, and only then renamed over it. Raw volumes become LUKS1 (LUKS2 where device-mapper exists):
/// cryptsetup writes the header, and only the plaintext's allocated extents are written through the unlocked view,
/// so the image stays thin. qcow2 volumes become qcow2+LUKS through qemu-img convert. Each key gets its own slot.
/// </summary>
public sealed class VolumeProtector(StorageContext context) : IPlannedOperation<ProtectVolumeRequest, ProtectVolumePlan, SparseVolume>
{
    /// <summary>Header room cryptsetup's defaults need before the payload (LUKS1: 2 MiB; LUKS2: 16 MiB).</summary>
    private static long HeaderReserve(EncryptionContainer container) => container == EncryptionContainer.Luks2 ? 16L << 20 : 2L << 20;

    public static EncryptionContainer DefaultFor(VolumeFormat format) =>
        format == VolumeFormat.Qcow2 ? EncryptionContainer.Qcow2Luks : DmCryptMapping.IsAvailable ? EncryptionContainer.Luks2 : EncryptionContainer.Luks1;

    public ProtectVolumePlan Plan(ProtectVolumeRequest request)
    {
        var volume = new VolumeCatalog(context).Get(request.Volume.Path);
        var container = RequireProtectable(volume, request);
        var plan = new ProtectVolumePlan
        {
            Volume = volume,
            Container = container,
            Request = request,
            Stamp = ImageStamp.Of(volume.Path),
            Extents = container == EncryptionContainer.Qcow2Luks ? [] : PlainExtents(volume),
            ClusterSize = container == EncryptionContainer.Qcow2Luks ? ClusterSizeOf(volume.Path) : 0,
            HasChangeReferences = HasChangeReferences(volume.Path),
            Impact = PlanImpact.High,
        };
        var dryRun = StepRunner.ForPlan(context);
        Run(plan, WorkFile.For(volume.Path), dryRun, null);
        return plan with { Steps = dryRun.Steps };
    }

    public SparseVolume Apply(ProtectVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Protecting a volume");
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(plan.Volume.Path);
        RequireProtectable(current, plan.Request);
        PlanAssumption.RequireSameImage(current, plan.Stamp);
        PlanAssumption.Require(HasChangeReferences(current.Path) == plan.HasChangeReferences, current, "a backup added or removed its change references");
        var temporary = WorkFile.For(current.Path);
        try
        {
            Run(plan, temporary, StepRunner.ForApply(context, progress, $"Protecting {current.Name}", cancellationToken), progress);
        }
        catch
        {
            new VolumeUnlocker(context).Close(temporary, CancellationToken.None);
            SiblingFile.Discard(temporary);
            throw;
        }
        return new VolumeCatalog(context).Get(current.Path);
    }

    private void Run(ProtectVolumePlan plan, string temporary, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        if (plan.Container == EncryptionContainer.Qcow2Luks)
            EncryptQcow2(plan, temporary, steps);
        else
            EncryptRaw(plan, temporary, steps, progress);
        var path = plan.Volume.Path;
        var wipe = plan.Request.WipePlaintext;
        PlaintextReplacement.Replace(temporary, path, wipe, steps, progress);
        if (plan.HasChangeReferences) // backup clones hold the plaintext
            steps.Do($"delete the backup change references of {path}{(wipe ? ", overwriting them first" : "")} (they hold its plaintext)",
                () => ChangeReferences.RemoveAll(path, wipe, progress, steps.Cancellation));
    }

    private EncryptionContainer RequireProtectable(SparseVolume volume, ProtectVolumeRequest request)
    {
        var keys = request.Keys;
        if (volume.Encryption != "None")
            throw new InvalidStorageArgumentException("AlreadyEncrypted", $"Volume '{volume.Name}' is already encrypted ({volume.Encryption}); use Add-VolumeKey to add a key.", volume);
        if (volume.IsAttached)
            throw new VolumeInUseException($"Volume '{volume.Name}' is {(volume.IsMounted ? $"mounted at {volume.MountPoint}" : "attached")}; dismount it before protecting it.", volume);
        if (volume.SnapshotCount > 0)
            throw new StorageOperationException("VolumeHasSnapshots", $"Volume '{volume.Name}' has {volume.SnapshotCount} snapshot(s), which would keep its plaintext; remove them first (Remove-VolumeSnapshot).", volume);
        if (volume.BackingFile is not null)
            throw new StorageOperationException("LinkedClone", $"Volume '{volume.Name}' is a linked clone of {volume.BackingFile}, whose plaintext would stay readable; make a full copy (Copy-SparseVolume) and protect that.", volume);
        new BackingChains(context).RequireNoDependants(volume, "encrypted");
        if (keys.Count == 0)
            throw new InvalidStorageArgumentException("KeyRequired", "Protect-Volume needs a passphrase, a key file, or both.", volume);
        var container = request.Container ?? DefaultFor(volume.Format);
        if ((container == EncryptionContainer.Qcow2Luks) != (volume.Format == VolumeFormat.Qcow2))
            throw new InvalidStorageArgumentException("ContainerMismatch", $"Volume '{volume.Name}' is {volume.Format}; {volume.Format} volumes are protected as {DefaultFor(volume.Format)}{(volume.Format == VolumeFormat.Raw ? " or Luks2" : "")}, not {container}.", container);
        if (container == EncryptionContainer.Luks2 && !DmCryptMapping.IsAvailable)
            throw new HostNotCapableException("DeviceMapperRequired", $"LUKS2 containers open only through dm-crypt, and this host has no device-mapper ({DmCryptMapping.ControlDevice} is missing); use -Container Luks1, which also opens in userspace.");
        // qemu opens userspace containers; every key after the first reaches cryptsetup as a secret file, which holds text only.
        var keysInFiles = VolumeUnlocker.MethodFor(container) == UnlockMethod.Userspace ? keys : keys.Skip(1);
        foreach (var key in keysInFiles)
            key.RequireQemuCompatible();
        return container;
    }

    private void EncryptRaw(ProtectVolumePlan plan, string temporary, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        var (volume, keys, iterationTime) = (plan.Volume, plan.Request.Keys, plan.Request.IterationTimeMilliseconds);
        var length = volume.SizeBytes + HeaderReserve(plan.Container);
        steps.Do($"create {temporary} (sparse, {ByteSize.Format(length)})", () =>
        {
            using var file = Libc.Open(temporary, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000);
            RandomAccess.SetLength(file, length);
        });
        steps.Tool(CryptSetup.Format(temporary, plan.Container, keys[0], iterationTime));
        foreach (var key in keys.Skip(1))
            steps.ToolWithSecrets([key], secrets => CryptSetup.AddKey(temporary, keys[0], secrets[0], iterationTime), Checked);
        var header = steps.Measure($"set the length of {temporary} to the LUKS payload offset + {volume.SizeBytes} bytes", () =>
        {
            var written = ContainerHeader.Read(temporary)!;
            using var file = Libc.Open(temporary, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
            RandomAccess.SetLength(file, written.Luks.PayloadOffset + volume.SizeBytes);
            return written;
        }, null);
        var transfer = new ViewTransfer(context, steps, progress);
        transfer.Write(temporary, header, keys[0], volume.Path, plan.Extents, $"write {ByteSize.Format(plan.Extents.Sum(e => e.Length))} of allocated data of {volume.Path} through the unlocked view (holes stay holes)");
        transfer.Verify(temporary, header, keys[0], volume.Path, plan.Extents, $"verify {temporary} against {volume.Path}");
    }

    private void EncryptQcow2(ProtectVolumePlan plan, string temporary, StepRunner steps)
    {
        var (volume, keys, iterationTime) = (plan.Volume, plan.Request.Keys, plan.Request.IterationTimeMilliseconds);
        steps.ToolWithSecrets([keys[0]], secrets => QemuCrypto.Encrypt(volume.Path, temporary, plan.ClusterSize, secrets[0], iterationTime), KeyDerivation);
        foreach (var key in keys.Skip(1))
            steps.ToolWithSecrets([keys[0], key], secrets => QemuCrypto.AddKey(temporary, secrets[0], secrets[1], iterationTime), KeyDerivation);
        var comparison = steps.ToolWithSecrets([keys[0]], secrets => QemuCrypto.Compare(volume.Path, temporary, secrets[0]), Checked);
        if (comparison.ExitCode != 0)
            throw new StorageOperationException("VerificationFailed", $"The encrypted copy of '{volume.Name}' does not read back as its plaintext ({comparison.StandardOutput.Trim()}); the volume was left unchanged.", volume);
    }

    private ToolResult Checked(ToolCommand command, CancellationToken cancellationToken) => context.Runner.RunChecked(command, cancellationToken);

    private ToolResult KeyDerivation(ToolCommand command, CancellationToken cancellationToken) => QemuCrypto.RunKeyDerivation(context.Runner, command, cancellationToken);

    private static bool HasChangeReferences(string volumePath) => Directory.Exists(ChangeReferences.FolderOf(volumePath));

    internal static long ClusterSizeOf(string qcow2Path)
    {
        using var image = Libc.Open(qcow2Path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        var head = new byte[4096];
        return Qcow2Header.Parse(head.AsSpan(0, RandomAccess.Read(image, head, 0))).ClusterSize;
    }

    private static IReadOnlyList<SparseFile.Extent> PlainExtents(SparseVolume volume)
    {
        using var plain = Libc.Open(volume.Path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        return PlaintextTransfer.Align(SparseFile.DataExtents(plain, volume.SizeBytes), volume.SizeBytes);
    }
}
