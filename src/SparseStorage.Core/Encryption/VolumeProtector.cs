using SparseStorage.Core.Backups;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Native;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>What Protect-Volume was asked: the container (default per volume format and host), PBKDF time, and whether to overwrite the old plaintext.</summary>
public sealed record ProtectVolumeRequest(EncryptionContainer? Container = null, int IterationTimeMilliseconds = 2000, bool WipePlaintext = false);

/// <summary>
/// Encrypts a volume in place of its plain image: the encrypted image is written beside it, verified against the
/// plaintext, flushed, and only then renamed over it. Raw volumes become LUKS1 (LUKS2 where device-mapper exists):
/// cryptsetup writes the header, and only the plaintext's allocated extents are written through the unlocked view,
/// so the image stays thin. qcow2 volumes become qcow2+LUKS through qemu-img convert. Each key gets its own slot.
/// </summary>
public sealed class VolumeProtector(StorageContext context)
{
    /// <summary>Header room cryptsetup's defaults need before the payload (LUKS1: 2 MiB; LUKS2: 16 MiB).</summary>
    private static long HeaderReserve(EncryptionContainer container) => container == EncryptionContainer.Luks2 ? 16L << 20 : 2L << 20;

    public static EncryptionContainer DefaultFor(VolumeFormat format) =>
        format == VolumeFormat.Qcow2 ? EncryptionContainer.Qcow2Luks : DmCryptMapping.IsAvailable ? EncryptionContainer.Luks2 : EncryptionContainer.Luks1;

    public IReadOnlyList<string> Plan(SparseVolume volume, int keyCount, ProtectVolumeRequest request)
    {
        using var placeholders = new KeyPlaceholders(keyCount);
        return Run(volume, placeholders.Keys, request, dryRun: true, null, CancellationToken.None).Steps;
    }

    public SparseVolume Protect(SparseVolume volume, IReadOnlyList<VolumeKey> keys, ProtectVolumeRequest request, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Protecting a volume");
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        Run(new VolumeCatalog(context).Get(volume.Path), keys, request, dryRun: false, progress, cancellationToken);
        return new VolumeCatalog(context).Get(volume.Path);
    }

    private StepRunner Run(SparseVolume current, IReadOnlyList<VolumeKey> keys, ProtectVolumeRequest request, bool dryRun, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var container = RequireProtectable(current, keys, request);
        var steps = new StepRunner(context.Runner, dryRun, progress, $"Protecting {current.Name}", cancellationToken);
        var temporary = SiblingFile.TemporaryFor(current.Path);
        try
        {
            if (container == EncryptionContainer.Qcow2Luks)
                EncryptQcow2(current, temporary, keys, request, steps);
            else
                EncryptRaw(current, temporary, container, keys, request, steps, progress);
            PlaintextReplacement.Replace(temporary, current.Path, request.WipePlaintext, steps, progress);
        }
        catch
        {
            new VolumeUnlocker(context).Close(temporary, CancellationToken.None);
            SiblingFile.Discard(temporary);
            throw;
        }
        if (!dryRun)
            ChangeReferences.RemoveAll(current.Path, request.WipePlaintext, progress, cancellationToken); // backup clones hold the plaintext
        return steps;
    }

    private EncryptionContainer RequireProtectable(SparseVolume volume, IReadOnlyList<VolumeKey> keys, ProtectVolumeRequest request)
    {
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
        if (container != EncryptionContainer.Luks2 && VolumeUnlocker.MethodFor(container) == UnlockMethod.Userspace)
            foreach (var key in keys)
                key.RequireQemuCompatible();
        return container;
    }

    private void EncryptRaw(SparseVolume volume, string temporary, EncryptionContainer container, IReadOnlyList<VolumeKey> keys, ProtectVolumeRequest request, StepRunner steps, IProgress<OperationProgress>? progress)
    {
        steps.Do($"create {temporary} (sparse, {ByteSize.Format(volume.SizeBytes + HeaderReserve(container))})", () =>
        {
            using var file = Libc.Open(temporary, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000);
            RandomAccess.SetLength(file, volume.SizeBytes + HeaderReserve(container));
        });
        steps.Tool(CryptSetup.Format(temporary, container, keys[0], request.IterationTimeMilliseconds));
        AddRawKeys(temporary, keys, request.IterationTimeMilliseconds, steps);
        var header = steps.Measure($"set the length of {temporary} to the LUKS payload offset + {volume.SizeBytes} bytes", () =>
        {
            var written = ContainerHeader.Read(temporary)!;
            using var file = Libc.Open(temporary, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
            RandomAccess.SetLength(file, written.Luks.PayloadOffset + volume.SizeBytes);
            return written;
        }, null);
        var extents = steps.Measure($"list the allocated extents of {volume.Path}", () => PlainExtents(volume), []);
        var transfer = new ViewTransfer(context, steps, progress);
        transfer.Write(temporary, header, keys[0], volume.Path, extents, $"write {ByteSize.Format(extents.Sum(e => e.Length))} of allocated data of {volume.Path} through the unlocked view (holes stay holes)");
        transfer.Verify(temporary, header, keys[0], volume.Path, extents, $"verify {temporary} against {volume.Path}");
    }

    private static void AddRawKeys(string temporary, IReadOnlyList<VolumeKey> keys, int iterationTime, StepRunner steps)
    {
        foreach (var key in keys.Skip(1))
        {
            using var secret = SecretFile.For(key, steps.DryRun);
            steps.Tool(CryptSetup.AddKey(temporary, keys[0], secret, iterationTime));
        }
    }

    private void EncryptQcow2(SparseVolume volume, string temporary, IReadOnlyList<VolumeKey> keys, ProtectVolumeRequest request, StepRunner steps)
    {
        var clusterSize = steps.DryRun ? 65536 : ClusterSizeOf(volume.Path);
        using var first = SecretFile.For(keys[0], steps.DryRun);
        KeyDerivation(QemuCrypto.Encrypt(volume.Path, temporary, clusterSize, first, request.IterationTimeMilliseconds), steps);
        foreach (var key in keys.Skip(1))
        {
            using var secret = SecretFile.For(key, steps.DryRun);
            KeyDerivation(QemuCrypto.AddKey(temporary, first, secret, request.IterationTimeMilliseconds), steps);
        }
        var comparison = steps.Tool(QemuCrypto.Compare(volume.Path, temporary, first));
        if (comparison.ExitCode != 0)
            throw new StorageOperationException("VerificationFailed", $"The encrypted copy of '{volume.Name}' does not read back as its plaintext ({comparison.StandardOutput.Trim()}); the volume was left unchanged.", volume);
    }

    private void KeyDerivation(Processes.ToolCommand command, StepRunner steps) =>
        steps.Do(command.ToString(), () => QemuCrypto.RunKeyDerivation(context.Runner, command, steps.Cancellation));

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

    /// <summary>Stand-in keys for a dry run's command lines.</summary>
    private sealed class KeyPlaceholders : IDisposable
    {
        public KeyPlaceholders(int count) =>
            Keys = Enumerable.Range(0, Math.Max(1, count)).Select(_ => VolumeKey.FromPassphrase("placeholder")).ToList();

        public IReadOnlyList<VolumeKey> Keys { get; }

        public void Dispose()
        {
            foreach (var key in Keys)
                key.Dispose();
        }
    }
}
