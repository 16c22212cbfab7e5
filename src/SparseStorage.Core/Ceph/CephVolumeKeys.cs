using SparseStorage.Core.Encryption;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// Adds and removes key slots of an encrypted Ceph volume: cryptsetup changes the LUKS header inside the image through
/// its raw FUSE export, as it does in a file volume's image. The volume must be locked on every host (qemu reads the
/// header only when it opens it); the last key is removed only when allowed explicitly.
/// </summary>
public sealed class CephVolumeKeys(StorageContext context)
    : IPlannedOperation<AddVolumeKeyRequest, AddVolumeKeyPlan, SparseVolume>, IPlannedOperation<RemoveVolumeKeyRequest, RemoveVolumeKeyPlan, SparseVolume>
{
    private readonly CephEncryptedImage images = new(context);

    public static bool Handles(SparseVolume volume) => CephPoolSettings.IsRbdPath(volume.Path);

    public AddVolumeKeyPlan Plan(AddVolumeKeyRequest request)
    {
        var (volume, header) = Read(request.Volume.Path);
        KeySlotRules.RequireRoomFor(request, volume, header.Luks);
        var (_, settings, image) = images.Resolve(volume.Path);
        var plan = new AddVolumeKeyPlan
        {
            Volume = volume,
            Request = request,
            Header = header,
            OpeningKey = images.KeyThatOpens(settings, image, header, request.Keys, CancellationToken.None),
        };
        var dryRun = StepRunner.ForPlan(context);
        WithRawExport(plan.Volume.Path, dryRun, path => AddKeys(plan, path, dryRun));
        return plan with { Steps = dryRun.Steps };
    }

    public SparseVolume Apply(AddVolumeKeyPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        ChangeKeys(plan.Volume, plan.Header, "Adding a key to a Ceph volume", "Adding keys to", (path, steps) => AddKeys(plan, path, steps), progress, cancellationToken);

    /// <summary>Checks that each key opens the volume and whether any key would be left; the last key only with AllowLastKeyRemoval. Changes nothing.</summary>
    public RemoveVolumeKeyPlan Plan(RemoveVolumeKeyRequest request)
    {
        var (volume, header) = Read(request.Volume.Path);
        var removesLastKey = KeySlotRules.RemovesLastKey(request, volume, header.Luks);
        var (_, settings, image) = images.Resolve(volume.Path);
        foreach (var key in request.Keys)
            images.KeyThatOpens(settings, image, header, [key], CancellationToken.None);
        var plan = new RemoveVolumeKeyPlan
        {
            Volume = volume,
            Request = request,
            Header = header,
            RemovesLastKey = removesLastKey,
            Impact = removesLastKey ? PlanImpact.High : PlanImpact.Medium,
            Warnings = KeySlotRules.LastKeyWarnings(removesLastKey, request, volume),
        };
        var dryRun = StepRunner.ForPlan(context);
        WithRawExport(volume.Path, dryRun, path => RemoveKeys(plan, path, dryRun));
        return plan with { Steps = dryRun.Steps };
    }

    public SparseVolume Apply(RemoveVolumeKeyPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        ChangeKeys(plan.Volume, plan.Header, "Removing a key of a Ceph volume", "Removing keys of", (path, steps) => RemoveKeys(plan, path, steps), progress, cancellationToken);

    /// <summary>Changes the key slots as planned under the volume's lock, once the LUKS header is known to be the one the plan read.</summary>
    private SparseVolume ChangeKeys(SparseVolume volume, ContainerHeader planned, string operation, string activity, Action<string, StepRunner> change,
        IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        context.RequireRoot(operation);
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var (current, header) = Read(volume.Path);
        PlanAssumption.Require(header.Luks == planned.Luks, current, "its LUKS header changed");
        var steps = StepRunner.ForApply(context, progress, $"{activity} {current.Name}", cancellationToken);
        WithRawExport(current.Path, steps, path => change(path, steps));
        return new VolumeCatalog(context).Get(current.Path);
    }

    private void AddKeys(AddVolumeKeyPlan plan, string exportPath, StepRunner steps)
    {
        foreach (var newKey in plan.Request.NewKeys)
            steps.ToolWithSecrets([newKey], secrets => CryptSetup.AddKey(exportPath, plan.OpeningKey, secrets[0], plan.Request.IterationTimeMilliseconds),
                (command, token) => context.Runner.RunChecked(command, token));
    }

    private static void RemoveKeys(RemoveVolumeKeyPlan plan, string exportPath, StepRunner steps)
    {
        foreach (var key in plan.Request.Keys)
            steps.Tool(CryptSetup.RemoveKey(exportPath, key));
    }

    /// <summary>Runs <paramref name="work"/> on the image's raw FUSE export, started and stopped around it as steps.</summary>
    private void WithRawExport(string volumePath, StepRunner steps, Action<string> work)
    {
        var (_, settings, image) = images.Resolve(volumePath);
        var export = new RbdExport(context, settings, image);
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

    /// <summary>The volume and its header; refused while it is unlocked or mounted on this host or held by any host.</summary>
    private (SparseVolume Volume, ContainerHeader Header) Read(string volumePath)
    {
        var volume = images.Volume(volumePath);
        var header = images.RequireEncrypted(volume);
        if (volume.IsAttached)
            throw new VolumeInUseException($"Volume '{volume.Name}' is unlocked on this host; qemu reads its key slots only when it opens it. Lock it first (Lock-Volume).", volume);
        var (_, settings, image) = images.Resolve(volumePath);
        CephEncryptedImage.RequireNoWriter(context, settings, image, volume, "changing its keys");
        return (volume, header);
    }
}
