using System.Text.Json;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// Encrypts a Ceph volume at rest, and decrypts it again, the way a file volume is: the new image is written beside the
/// old one, verified, and only then takes its name. A protected image holds a LUKS1 container (the module's own, not
/// librbd's encryption format: Pacific's rbd can format but not add or remove keys, and the header must be the one
/// cryptsetup and qemu's luks driver share). cryptsetup writes the header through the new image's raw FUSE export;
/// the plaintext is copied through qemu's luks driver stacked on its rbd driver, only where the old image holds data.
/// </summary>
public sealed class CephVolumeProtection(StorageContext context)
    : IPlannedOperation<ProtectVolumeRequest, ProtectVolumePlan, SparseVolume>, IPlannedOperation<UnprotectVolumeRequest, UnprotectVolumePlan, SparseVolume>
{
    /// <summary>Where the payload of a Ceph volume's LUKS1 container starts: 4096 sectors (2 MiB) hold the header and 8 key slots.</summary>
    public const long PayloadOffset = 2L << 20;

    private const string WorkSuffix = ".sparsestorage-work";
    private const string OldSuffix = ".sparsestorage-old";
    private readonly CephEncryptedImage images = new(context);

    public static bool Handles(SparseVolume volume) => CephPoolSettings.IsRbdPath(volume.Path);

    public ProtectVolumePlan Plan(ProtectVolumeRequest request)
    {
        var volume = RequireProtectable(request);
        var plan = new ProtectVolumePlan { Volume = volume, Container = EncryptionContainer.Luks1, Request = request, Impact = PlanImpact.High };
        return plan with { Steps = StepsOf(plan) };
    }

    public SparseVolume Apply(ProtectVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Protecting a volume");
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var current = RequireProtectable(plan.Request);
        PlanAssumption.Require(current.SizeBytes == plan.Volume.SizeBytes, current, "its size changed");
        PlanRecheck.RequireSameSteps(plan, plan with { Steps = StepsOf(plan) });
        var (_, settings, image) = images.Resolve(current.Path);
        Protect(plan, settings, image, StepRunner.ForApply(context, progress, $"Protecting {current.Name}", cancellationToken));
        return new VolumeCatalog(context).Get(current.Path);
    }

    public UnprotectVolumePlan Plan(UnprotectVolumeRequest request)
    {
        var (volume, header) = RequireUnprotectable(request.Volume.Path);
        var (_, settings, image) = images.Resolve(volume.Path);
        CephEncryptedImage.RequireUsableKeys(volume, request.Keys);
        var plan = new UnprotectVolumePlan
        {
            Volume = volume,
            Container = header.Container,
            Header = header,
            OpeningKey = images.KeyThatOpens(settings, image, header, request.Keys, CancellationToken.None),
            Impact = PlanImpact.High,
        };
        return plan with { Steps = StepsOf(plan) };
    }

    public SparseVolume Apply(UnprotectVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Unprotecting a volume");
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var (current, header) = RequireUnprotectable(plan.Volume.Path);
        PlanAssumption.Require(header.Luks == plan.Header.Luks, current, "its LUKS header changed");
        PlanRecheck.RequireSameSteps(plan, plan with { Steps = StepsOf(plan) });
        var (_, settings, image) = images.Resolve(current.Path);
        Unprotect(plan, settings, image, StepRunner.ForApply(context, progress, $"Unprotecting {current.Name}", cancellationToken));
        return new VolumeCatalog(context).Get(current.Path);
    }

    private List<string> StepsOf(ProtectVolumePlan plan)
    {
        var (_, settings, image) = images.Resolve(plan.Volume.Path);
        var dryRun = StepRunner.ForPlan(context);
        Protect(plan, settings, image, dryRun);
        return dryRun.Steps.ToList();
    }

    private List<string> StepsOf(UnprotectVolumePlan plan)
    {
        var (_, settings, image) = images.Resolve(plan.Volume.Path);
        var dryRun = StepRunner.ForPlan(context);
        Unprotect(plan, settings, image, dryRun);
        return dryRun.Steps.ToList();
    }

    private SparseVolume RequireProtectable(ProtectVolumeRequest request)
    {
        var volume = images.Volume(request.Volume.Path);
        if (volume.Encryption != "None")
            throw new InvalidStorageArgumentException("AlreadyEncrypted", $"Volume '{volume.Name}' is already encrypted ({volume.Encryption}); use Add-VolumeKey to add a key.", volume);
        if (request.Container is { } container && container != EncryptionContainer.Luks1)
            throw new InvalidStorageArgumentException("ContainerMismatch", $"Volumes of Ceph pools are protected as Luks1 (opened by qemu's luks driver on its rbd driver), not {container}.", container);
        RequireUnused(volume, "protecting it");
        if (volume.SnapshotCount > 0)
            throw new StorageOperationException("VolumeHasSnapshots", $"Volume '{volume.Name}' has {volume.SnapshotCount} snapshot(s), which would keep its plaintext; remove them first (Remove-VolumeSnapshot).", volume);
        if (volume.BackingFile is not null)
            throw new StorageOperationException("LinkedClone", $"Volume '{volume.Name}' is a linked clone of {volume.BackingFile}, whose plaintext would stay readable; make a full copy (Copy-SparseVolume) and protect that.", volume);
        if (request.Keys.Count == 0)
            throw new InvalidStorageArgumentException("KeyRequired", "Protect-Volume needs a passphrase, a key file, or both.", volume);
        foreach (var key in request.Keys)
            key.RequireQemuCompatible();
        if (request.Keys.Count > 8)
            throw new StorageOperationException("NoFreeKeySlot", $"A LUKS1 container has 8 key slots; {request.Keys.Count} keys were given.", volume);
        return volume;
    }

    private (SparseVolume Volume, ContainerHeader Header) RequireUnprotectable(string volumePath)
    {
        var volume = images.Volume(volumePath);
        var header = images.RequireEncrypted(volume);
        RequireUnused(volume, "removing its encryption");
        return (volume, header);
    }

    /// <summary>Refuses a volume this host has attached or unlocked, one any host holds, and one whose work images are left from an interrupted run.</summary>
    private void RequireUnused(SparseVolume volume, string action)
    {
        if (volume.IsAttached)
            throw new VolumeInUseException($"Volume '{volume.Name}' is {(volume.IsMounted ? $"mounted at {volume.MountPoint}" : volume.IsUnlocked ? "unlocked" : "attached")}; lock or dismount it (Lock-Volume -Dismount) before {action}.", volume);
        var (pool, settings, image) = images.Resolve(volume.Path);
        CephEncryptedImage.RequireNoWriter(context, settings, image, volume, action);
        var names = CephListing.Names(context.Runner.RunChecked(new CephTools(settings).ListNames()).StandardOutput);
        foreach (var leftover in new[] { image + WorkSuffix, image + OldSuffix }.Where(names.Contains))
            throw new StorageOperationException("WorkImageExists",
                $"Pool '{pool.Name}' holds {settings.ImagePath(leftover)}, left by an interrupted Protect- or Unprotect-Volume of '{volume.Name}'; check it and remove it (Remove-SparseVolume) first.", volume);
    }

    private void Protect(ProtectVolumePlan plan, CephPoolSettings settings, string image, StepRunner steps)
    {
        var (keys, iterationTime) = (plan.Request.Keys, plan.Request.IterationTimeMilliseconds);
        var work = image + WorkSuffix;
        var tools = new CephTools(settings);
        steps.Tool(tools.Create(work, plan.Volume.SizeBytes + PayloadOffset));
        var undo = new Stack<Action>();
        undo.Push(() => context.Runner.RunChecked(tools.Remove(work), CancellationToken.None));
        try
        {
            WithExport(new RbdExport(context, settings, work), steps, header =>
            {
                steps.Tool(CryptSetup.FormatLuks1(header, keys[0], iterationTime, PayloadOffset / 512));
                foreach (var key in keys.Skip(1))
                    steps.ToolWithSecrets([key], secrets => CryptSetup.AddKey(header, keys[0], secrets[0], iterationTime),
                        (command, token) => context.Runner.RunChecked(command, token));
            });
            var plaintext = new RbdExport(context, settings, work) { Decrypts = true, Key = keys[0] };
            WithExport(plaintext, steps, target => WithExport(new RbdExport(context, settings, image, readOnly: true), steps, source =>
            {
                var extents = Array.Empty<SparseFile.Extent>() as IReadOnlyList<SparseFile.Extent>;
                steps.Do($"write the allocated data of {plan.Volume.Path} into the plaintext of {settings.ImagePath(work)} (holes stay holes)", () =>
                {
                    using var plain = Libc.Open(source, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
                    // The FUSE file answers SEEK_DATA from librbd's allocation map.
                    extents = PlaintextTransfer.Align(SparseFile.DataExtents(plain, plan.Volume.SizeBytes), plan.Volume.SizeBytes);
                    using var view = PlaintextTransfer.OpenView(target, write: true);
                    PlaintextTransfer.Copy(plain, view, extents, skipZeroChunks: false, _ => { }, steps.Cancellation);
                    RandomAccess.FlushToDisk(view);
                });
                steps.Do($"verify the plaintext of {settings.ImagePath(work)} against {plan.Volume.Path}", () => Verify(source, target, extents, plan.Volume.Path));
            }));
            Swap(settings, image, work, steps, undo);
        }
        catch when (!steps.DryRun)
        {
            Undo(undo);
            throw;
        }
        if (plan.Request.WipePlaintext)
            WithExport(new RbdExport(context, settings, image + OldSuffix), steps, old =>
                steps.Do($"write zeros over every allocated extent of {settings.ImagePath(image + OldSuffix)} and flush", () => VolumeRemover.Wipe(old, null, steps.Cancellation)));
        steps.Tool(tools.Remove(image + OldSuffix));
    }

    private void Unprotect(UnprotectVolumePlan plan, CephPoolSettings settings, string image, StepRunner steps)
    {
        var work = image + WorkSuffix;
        var tools = new CephTools(settings);
        var size = plan.Volume.SizeBytes;
        steps.Tool(tools.Create(work, size));
        var undo = new Stack<Action>();
        undo.Push(() => context.Runner.RunChecked(tools.Remove(work), CancellationToken.None));
        try
        {
            var plaintext = new RbdExport(context, settings, image, readOnly: true) { Decrypts = true, Key = plan.OpeningKey };
            WithExport(plaintext, steps, source => WithExport(new RbdExport(context, settings, work), steps, target =>
            {
                var ranges = Array.Empty<SparseFile.Extent>() as IReadOnlyList<SparseFile.Extent>;
                steps.Do($"decrypt the written data of {plan.Volume.Path} into {settings.ImagePath(work)} (all-zero chunks stay holes)", () =>
                {
                    ranges = WrittenPlaintext(tools, image, plan.Header.Luks.PayloadOffset, size);
                    using var view = PlaintextTransfer.OpenView(source, write: false);
                    using var plain = Libc.Open(target, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
                    PlaintextTransfer.Copy(view, plain, ranges, skipZeroChunks: true, _ => { }, steps.Cancellation);
                    RandomAccess.FlushToDisk(plain);
                });
                steps.Do($"verify {settings.ImagePath(work)} against the plaintext of {plan.Volume.Path}", () => Verify(target, source, ranges, plan.Volume.Path));
            }));
            Swap(settings, image, work, steps, undo);
        }
        catch when (!steps.DryRun)
        {
            Undo(undo);
            throw;
        }
        steps.Tool(tools.Remove(image + OldSuffix));
    }

    /// <summary>The work image takes the volume's name; the old image keeps a name of its own until it is removed.</summary>
    private void Swap(CephPoolSettings settings, string image, string work, StepRunner steps, Stack<Action> undo)
    {
        var tools = new CephTools(settings);
        steps.Tool(Rename(tools, image, image + OldSuffix));
        undo.Push(() => context.Runner.RunChecked(Rename(tools, image + OldSuffix, image), CancellationToken.None));
        steps.Tool(Rename(tools, work, image));
        undo.Clear();
    }

    private static ToolCommand Rename(CephTools tools, string from, string to) => tools.Rbd("rename", "--image", from, "--dest", to);

    /// <summary>The plaintext ranges an encrypted image holds data for (rbd diff of the image, less the header), 4 KiB aligned.</summary>
    private IReadOnlyList<SparseFile.Extent> WrittenPlaintext(CephTools tools, string image, long payloadOffset, long size)
    {
        var json = context.Runner.RunChecked(tools.Rbd("diff", "--format", "json", "--image", image)).StandardOutput;
        using var document = JsonDocument.Parse(json);
        var extents = new List<SparseFile.Extent>();
        foreach (var entry in document.RootElement.EnumerateArray())
        {
            var (offset, length) = (entry.GetProperty("offset").GetInt64(), entry.GetProperty("length").GetInt64());
            var start = Math.Max(offset, payloadOffset) - payloadOffset;
            var end = offset + length - payloadOffset;
            if (end > start)
                extents.Add(new SparseFile.Extent(start, end - start));
        }
        return PlaintextTransfer.Align(extents, size);
    }

    private static void Verify(string expectedPath, string actualPath, IReadOnlyList<SparseFile.Extent> ranges, string volumePath)
    {
        using var expected = Libc.Open(expectedPath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        using var actual = Libc.Open(actualPath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (PlaintextTransfer.FirstDifference(expected, actual, ranges, _ => { }, CancellationToken.None) is { } difference)
            throw new StorageOperationException("VerificationFailed",
                $"The new image of '{volumePath}' reads back differently at plaintext offset {difference}; the volume was left unchanged.", volumePath);
    }

    /// <summary>Starts an export as a step, runs <paramref name="work"/> on its file, and stops it as a step, also when the work fails.</summary>
    private static void WithExport(RbdExport export, StepRunner steps, Action<string> work)
    {
        var record = export.Start(steps);
        try
        {
            work(export.ExportPath);
        }
        finally
        {
            export.Stop(steps, record);
        }
    }

    private static void Undo(Stack<Action> undo)
    {
        while (undo.TryPop(out var step))
        {
            try
            {
                step();
            }
            catch (Exception e) when (e is SparseStorageException or IOException)
            {
                // Keep undoing; the original failure is the one reported.
            }
        }
    }
}
