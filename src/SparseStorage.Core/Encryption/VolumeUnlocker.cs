using SparseStorage.Core.Devices;
using SparseStorage.Core.Host;
using SparseStorage.Core.Leftovers;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>How to open an encrypted volume: read-only, with discards passed down (off by default: holes reveal free sectors).</summary>
public sealed record UnlockOptions(bool ReadOnly = false, bool AllowDiscards = false, bool LockWithDismount = false);

/// <summary>What Unlock-Volume was asked: the volume, the keys to try, and how to open it.</summary>
public sealed record UnlockVolumeRequest(SparseVolume Volume, IReadOnlyList<VolumeKey> Keys, UnlockOptions Options);

/// <summary>
/// What Lock-Volume was asked: with <see cref="Dismount"/> a mounted volume is unmounted first; with
/// <see cref="LazyUnmount"/> it is unmounted lazily (umount --lazy), so a busy filesystem leaves the tree at once.
/// </summary>
public sealed record LockVolumeRequest(SparseVolume Volume, bool Dismount = false, bool LazyUnmount = false);

/// <summary>The opening of one volume's plaintext, with the key the plan found to open it; no step when it is open already.</summary>
public sealed record UnlockVolumePlan : OperationPlan
{
    public required SparseVolume Volume { get; init; }
    public bool IsAlreadyUnlocked { get; init; }

    public override string Target => Volume.Path;
    public override string Action => IsAlreadyUnlocked ? "Unlock volume (already unlocked; nothing to do)" : "Unlock volume";

    internal ContainerHeader? Header { get; init; }
    internal VolumeKey? OpeningKey { get; init; }
    internal UnlockOptions Options { get; init; } = new();
    internal ImageStamp? Stamp { get; init; }
}

/// <summary>The closing of one volume's plaintext: the unmounts, the loop device, then the daemon or mapping; no step when it is locked already.</summary>
public sealed record LockVolumePlan : OperationPlan
{
    public required SparseVolume Volume { get; init; }

    public override string Target => Volume.Path;
    public override string Action => Steps.Count == 0 ? "Lock volume (already locked; nothing to do)" : "Lock volume";

    internal LockVolumeRequest Request { get; init; } = null!;
}

/// <summary>
/// Opens and closes encrypted volumes. qcow2+LUKS and, without device-mapper, LUKS1 open in userspace:
/// qemu-storage-daemon decrypts and exports the plaintext through FUSE. Where device-mapper exists, raw LUKS opens
/// with cryptsetup at /dev/mapper. LUKS2 needs device-mapper.
/// </summary>
public sealed class VolumeUnlocker(StorageContext context)
    : IPlannedOperation<UnlockVolumeRequest, UnlockVolumePlan, SparseVolume>, IPlannedOperation<LockVolumeRequest, LockVolumePlan, SparseVolume>
{
    private readonly FuseExporter exporter = context.FuseExporter();
    private readonly LoopDeviceManager loops = new(context.Runner);

    public static UnlockMethod MethodFor(EncryptionContainer container) =>
        container == EncryptionContainer.Qcow2Luks || (container == EncryptionContainer.Luks1 && !DmCryptMapping.IsAvailable)
            ? UnlockMethod.Userspace : UnlockMethod.DmCrypt;

    /// <summary>Whether opening the volume (to mount it) needs a key: it is encrypted and its plaintext is not open yet.</summary>
    public static bool NeedsKey(SparseVolume volume) => volume.Encryption != "None" && !volume.IsUnlocked;

    /// <summary>The header of an encrypted volume; a plain volume is refused.</summary>
    public static ContainerHeader RequireEncrypted(SparseVolume volume) =>
        ContainerHeader.Read(volume.Path)
        ?? throw new InvalidStorageArgumentException("VolumeNotEncrypted", $"Volume '{volume.Name}' is not encrypted; protect it with Protect-Volume first.", volume);

    /// <summary>Checks that the volume can be opened and finds the key that opens it (a key derivation per key tried); changes nothing.</summary>
    public UnlockVolumePlan Plan(UnlockVolumeRequest request)
    {
        var volume = new VolumeCatalog(context).Get(request.Volume.Path);
        var header = RequireEncrypted(volume);
        RequireNotBroken(volume);
        if (volume.IsUnlocked && !IsLeftOverByKilledUnlock(volume.Path))
            return new UnlockVolumePlan { Volume = volume, IsAlreadyUnlocked = true };
        RequireOpenable(volume.Path, header, request.Keys);
        return new UnlockVolumePlan
        {
            Volume = volume,
            Header = header,
            OpeningKey = KeyProbe.KeyThatOpens(context.Runner, volume.Path, header, request.Keys, CancellationToken.None),
            Options = request.Options,
            Stamp = ImageStamp.Of(volume.Path),
            Steps = [OpenStep(volume.Path, header, request.Options)],
        };
    }

    /// <summary>Opens the plaintext with the key the plan found; an already unlocked volume is returned as it is.</summary>
    public SparseVolume Apply(UnlockVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Unlocking a volume");
        new LeftoverSweeper(context).Sweep(); // a daemon left by a killed unlock of this volume would pass for unlocked
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(plan.Volume.Path);
        RequireEncrypted(current);
        RequireNotBroken(current);
        PlanAssumption.Require(current.IsUnlocked == plan.IsAlreadyUnlocked, current, current.IsUnlocked ? "it was unlocked meanwhile" : "it was locked meanwhile");
        if (plan.IsAlreadyUnlocked)
            return current;
        PlanAssumption.RequireSameImage(current, plan.Stamp!);
        var steps = StepRunner.ForApply(context, progress, $"Unlocking {current.Name}", cancellationToken);
        steps.Do(OpenStep(current.Path, plan.Header!, plan.Options), () =>
        {
            Open(current.Path, plan.Header!, [plan.OpeningKey!], plan.Options, steps.Cancellation);
            exporter.Release(current.Path);
        });
        return new VolumeCatalog(context).Get(current.Path);
    }

    /// <summary>An export whose unlock was killed before it finished: Apply's sweep stops it, so the plan opens the volume anew.</summary>
    private bool IsLeftOverByKilledUnlock(string imagePath) =>
        context.ReadAttachments().Of(imagePath).FuseExport is { Owner: not null, IsOwnerGone: true };

    /// <summary>The step that opens a locked volume's plaintext, as a mount that unlocks it first shows it.</summary>
    internal string OpenStep(SparseVolume volume, UnlockOptions options) => OpenStep(volume.Path, RequireEncrypted(volume), options);

    private string OpenStep(string imagePath, ContainerHeader header, UnlockOptions options) =>
        (MethodFor(header.Container) == UnlockMethod.DmCrypt
            ? CryptSetup.Open(imagePath, DmCryptMapping.NameFor(imagePath), options.ReadOnly, options.AllowDiscards)
            : exporter.StartCommand(imagePath, ExportOptions(header, options, SecretFile.Placeholder()))).ToString();

    private static void RequireNotBroken(SparseVolume volume)
    {
        if (volume.IsBroken)
            throw new StorageOperationException("VolumeBroken", $"The qemu-storage-daemon of '{volume.Name}' is gone; run Lock-Volume to clean up first.", volume);
    }

    private static void RequireOpenable(string imagePath, ContainerHeader header, IReadOnlyList<VolumeKey> keys)
    {
        if (keys.Count == 0)
            throw new InvalidStorageArgumentException("KeyRequired", $"{imagePath} is encrypted; give a passphrase or a key file.", imagePath);
        if (header.Container == EncryptionContainer.Luks2 && !DmCryptMapping.IsAvailable)
            throw new HostNotCapableException("DeviceMapperRequired", $"{imagePath} is a LUKS2 container, which only dm-crypt opens, and this host has no device-mapper ({DmCryptMapping.ControlDevice} is missing). Unprotect it on a host with device-mapper, or protect volumes here as LUKS1.");
        if (MethodFor(header.Container) == UnlockMethod.Userspace)
            foreach (var key in keys)
                key.RequireQemuCompatible();
    }

    /// <summary>Opens an image's plaintext and returns where it can be read: a FUSE export file or a /dev/mapper device. Each key is tried in turn.</summary>
    internal string Open(string imagePath, ContainerHeader header, IReadOnlyList<VolumeKey> keys, UnlockOptions options, CancellationToken cancellationToken)
    {
        RequireOpenable(imagePath, header, keys);
        foreach (var key in keys)
        {
            try
            {
                return MethodFor(header.Container) == UnlockMethod.DmCrypt ? OpenMapping(imagePath, key, options, cancellationToken) : OpenExport(imagePath, header, key, options, cancellationToken);
            }
            catch (WrongKeyException)
            {
                // Try the next key.
            }
        }
        throw KeyProbe.NoneOpens(keys, imagePath);
    }

    /// <summary>Closes whatever <see cref="Open"/> opened for the image.</summary>
    internal void Close(string imagePath, CancellationToken cancellationToken)
    {
        var attachment = context.ReadAttachments().Of(imagePath);
        if (attachment.MappedDevice is not null)
            context.Runner.RunChecked(CryptSetup.Close(DmCryptMapping.NameFor(imagePath)), cancellationToken);
        if (attachment.FuseExport is not null)
            exporter.Stop(attachment.FuseExport, cancellationToken);
    }

    /// <summary>
    /// Plans closing the plaintext: unmounting (a mounted volume only with Dismount or LazyUnmount), detaching the loop
    /// device, stopping the daemon or closing the mapping. A broken volume (its daemon gone) has no plaintext left to
    /// protect: its mounts are unmounted lazily without being asked.
    /// </summary>
    public LockVolumePlan Plan(LockVolumeRequest request)
    {
        var volume = new VolumeCatalog(context).Get(request.Volume.Path);
        RequireEncrypted(volume);
        var dryRun = StepRunner.ForPlan(context);
        Close(volume, context.ReadAttachments().Of(volume.Path), request, dryRun);
        return new LockVolumePlan { Volume = volume, Request = request, Steps = dryRun.Steps };
    }

    public SparseVolume Apply(LockVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Locking a volume");
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(plan.Volume.Path);
        RequireEncrypted(current);
        var attachment = context.ReadAttachments().Of(current.Path);
        var now = StepRunner.ForPlan(context);
        Close(current, attachment, plan.Request, now);
        PlanAssumption.Require(now.Steps.SequenceEqual(plan.Steps), current, "its mounts, loop device, daemon or mapping are not the planned ones");
        Close(current, attachment, plan.Request, StepRunner.ForApply(context, progress, $"Locking {current.Name}", cancellationToken));
        return new VolumeCatalog(context).Get(current.Path);
    }

    private void Close(SparseVolume volume, VolumeAttachment attachment, LockVolumeRequest request, StepRunner steps)
    {
        var lazily = request.LazyUnmount || volume.IsBroken;
        if (attachment.IsMounted && !request.Dismount && !lazily)
            throw new VolumeInUseException($"Volume '{volume.Name}' is mounted at {string.Join(", ", attachment.MountPoints)}; use Lock-Volume -Dismount to unmount it first.", volume);
        foreach (var mountPoint in attachment.MountPoints)
            steps.Tool(lazily ? new ToolCommand("umount", "--lazy", mountPoint) : Mounter.UnmountCommand(mountPoint));
        if (attachment.LoopDevice is { } loop && attachment.MappedDevice is null)
            steps.Do(LoopDeviceManager.DetachCommand(loop).ToString(), () => loops.Detach(loop, steps.Cancellation));
        if (attachment.MappedDevice is not null)
            steps.Tool(CryptSetup.Close(DmCryptMapping.NameFor(volume.Path)));
        if (attachment.FuseExport is { } export)
            steps.Do(FuseExporter.StopStep(export), () => exporter.Stop(export, steps.Cancellation));
    }

    private string OpenExport(string imagePath, ContainerHeader header, VolumeKey key, UnlockOptions options, CancellationToken cancellationToken)
    {
        using var secret = new SecretFile(key);
        return exporter.Start(imagePath, ExportOptions(header, options, secret), cancellationToken).ExportPath;
    }

    private string OpenMapping(string imagePath, VolumeKey key, UnlockOptions options, CancellationToken cancellationToken)
    {
        var name = DmCryptMapping.NameFor(imagePath);
        var result = context.Runner.Run(CryptSetup.Open(imagePath, name, key, options.ReadOnly, options.AllowDiscards), cancellationToken);
        if (result.ExitCode == CryptSetup.WrongKeyExitCode)
            throw new WrongKeyException($"The key does not open {imagePath}.", imagePath);
        result.EnsureSuccess();
        return DmCryptMapping.DevicePathFor(imagePath);
    }

    private static FuseExportOptions ExportOptions(ContainerHeader header, UnlockOptions options, SecretFile? secret) =>
        new(header.Container == EncryptionContainer.Qcow2Luks ? ExportLayer.Qcow2 : ExportLayer.Luks, options.ReadOnly, options.AllowDiscards, secret, options.LockWithDismount);
}
