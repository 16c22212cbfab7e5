using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>What Add-VolumeKey was asked: the volume, keys it already has (one must open it), and the keys that each get a new slot.</summary>
public sealed record AddVolumeKeyRequest(SparseVolume Volume, IReadOnlyList<VolumeKey> Keys, IReadOnlyList<VolumeKey> NewKeys, int IterationTimeMilliseconds = 2000);

/// <summary>
/// What Remove-VolumeKey was asked: the volume and the keys whose slots go. Removing what may be the last key makes
/// the data unreadable for ever; it is planned only with <see cref="AllowLastKeyRemoval"/>.
/// </summary>
public sealed record RemoveVolumeKeyRequest(SparseVolume Volume, IReadOnlyList<VolumeKey> Keys, bool AllowLastKeyRemoval = false);

/// <summary>New key slots for one volume, with the existing key the plan found to open it.</summary>
public sealed record AddVolumeKeyPlan : OperationPlan
{
    public required SparseVolume Volume { get; init; }

    public override string Target => Volume.Path;
    public override string Action => $"Add {Keys(Request.NewKeys.Count)} ({Volume.Encryption}, {Volume.KeySlotCount} key slot(s) active)";

    internal AddVolumeKeyRequest Request { get; init; } = null!;
    internal ContainerHeader Header { get; init; } = null!;
    internal VolumeKey OpeningKey { get; init; } = null!;
    internal ImageStamp Stamp { get; init; } = null!;

    internal static string Keys(int count) => count == 1 ? "a key" : $"{count} keys";
}

/// <summary>The removal of key slots from one volume; High impact, with its own question, when it may remove the last key.</summary>
public sealed record RemoveVolumeKeyPlan : OperationPlan
{
    public required SparseVolume Volume { get; init; }

    /// <summary>Whether no key may be left afterwards: the data then becomes unreadable for ever.</summary>
    public bool RemovesLastKey { get; init; }

    public override string Target => Volume.Path;
    public override string Action => RemovesLastKey
        ? "Remove the last key: the data becomes unreadable for ever"
        : $"Remove {AddVolumeKeyPlan.Keys(Request.Keys.Count)} ({Volume.KeySlotCount} key slot(s) active)";

    public override string? ConfirmationQuery => RemovesLastKey
        ? $"Removing {VolumeKey.Describe(Request.Keys)} leaves '{Volume.Name}' without a key: its data becomes unreadable for ever, here and in every copy of its image. Remove it?"
        : null;

    internal RemoveVolumeKeyRequest Request { get; init; } = null!;
    internal ContainerHeader Header { get; init; } = null!;
    internal ImageStamp Stamp { get; init; } = null!;
}

/// <summary>
/// Adds and removes LUKS key slots: cryptsetup for raw LUKS, qemu-img amend for qcow2+LUKS (which needs the volume
/// locked, since a running qemu-storage-daemon holds the image). The last key is removed only when allowed explicitly.
/// </summary>
public sealed class VolumeKeyManager(StorageContext context)
    : IPlannedOperation<AddVolumeKeyRequest, AddVolumeKeyPlan, SparseVolume>, IPlannedOperation<RemoveVolumeKeyRequest, RemoveVolumeKeyPlan, SparseVolume>
{
    /// <summary>Checks the volume and the new keys, finds an existing key that opens it (a key derivation per key tried); changes nothing.</summary>
    public AddVolumeKeyPlan Plan(AddVolumeKeyRequest request)
    {
        var (volume, header) = Read(request.Volume.Path);
        KeySlotRules.RequireRoomFor(request, volume, header.Luks);
        var plan = new AddVolumeKeyPlan
        {
            Volume = volume,
            Request = request,
            Header = header,
            OpeningKey = KeyProbe.KeyThatOpens(context.Runner, volume.Path, header, request.Keys, CancellationToken.None),
            Stamp = ImageStamp.Of(volume.Path),
        };
        var dryRun = StepRunner.ForPlan(context);
        AddKeys(plan, dryRun);
        return plan with { Steps = dryRun.Steps };
    }

    public SparseVolume Apply(AddVolumeKeyPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var (current, _) = Read(plan.Volume.Path);
        PlanAssumption.RequireSameImage(current, plan.Stamp);
        AddKeys(plan, StepRunner.ForApply(context, progress, $"Adding keys to {current.Name}", cancellationToken));
        return new VolumeCatalog(context).Get(current.Path);
    }

    /// <summary>
    /// Checks that each key opens the volume and whether any key would be left; refuses to plan removing what may be
    /// the last key unless the request allows it. Changes nothing.
    /// </summary>
    public RemoveVolumeKeyPlan Plan(RemoveVolumeKeyRequest request)
    {
        var (volume, header) = Read(request.Volume.Path);
        var removesLastKey = KeySlotRules.RemovesLastKey(request, volume, header.Luks);
        foreach (var key in request.Keys)
            KeyProbe.KeyThatOpens(context.Runner, volume.Path, header, [key], CancellationToken.None);
        var plan = new RemoveVolumeKeyPlan
        {
            Volume = volume,
            Request = request,
            Header = header,
            Stamp = ImageStamp.Of(volume.Path),
            RemovesLastKey = removesLastKey,
            Impact = removesLastKey ? PlanImpact.High : PlanImpact.Medium,
            Warnings = KeySlotRules.LastKeyWarnings(removesLastKey, request, volume),
        };
        var dryRun = StepRunner.ForPlan(context);
        RemoveKeys(plan, dryRun);
        return plan with { Steps = dryRun.Steps };
    }

    public SparseVolume Apply(RemoveVolumeKeyPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Volume.Path, cancellationToken);
        var (current, _) = Read(plan.Volume.Path);
        PlanAssumption.RequireSameImage(current, plan.Stamp);
        RemoveKeys(plan, StepRunner.ForApply(context, progress, $"Removing keys of {current.Name}", cancellationToken));
        return new VolumeCatalog(context).Get(current.Path);
    }

    private void AddKeys(AddVolumeKeyPlan plan, StepRunner steps)
    {
        var (path, opening, iterationTime) = (plan.Volume.Path, plan.OpeningKey, plan.Request.IterationTimeMilliseconds);
        foreach (var newKey in plan.Request.NewKeys)
        {
            if (plan.Header.Container == EncryptionContainer.Qcow2Luks)
                steps.ToolWithSecrets([opening, newKey], secrets => QemuCrypto.AddKey(path, secrets[0], secrets[1], iterationTime), KeyDerivation);
            else
                steps.ToolWithSecrets([newKey], secrets => CryptSetup.AddKey(path, opening, secrets[0], iterationTime), Checked);
        }
    }

    private void RemoveKeys(RemoveVolumeKeyPlan plan, StepRunner steps)
    {
        var path = plan.Volume.Path;
        foreach (var key in plan.Request.Keys)
        {
            if (plan.Header.Container == EncryptionContainer.Qcow2Luks)
                steps.ToolWithSecrets([key], secrets => QemuCrypto.RemoveKey(path, secrets[0]), Checked);
            else
                steps.Tool(CryptSetup.RemoveKey(path, key));
        }
    }

    private (SparseVolume Volume, ContainerHeader Header) Read(string volumePath)
    {
        var current = new VolumeCatalog(context).Get(volumePath);
        var header = VolumeUnlocker.RequireEncrypted(current);
        if (header.Container == EncryptionContainer.Qcow2Luks && current.IsAttached)
            throw new VolumeInUseException($"Volume '{current.Name}' is unlocked; qemu-img cannot change the key slots of a qcow2 image in use. Lock it first (Lock-Volume).", current);
        return (current, header);
    }

    private ToolResult Checked(ToolCommand command, CancellationToken cancellationToken) => context.Runner.RunChecked(command, cancellationToken);

    private ToolResult KeyDerivation(ToolCommand command, CancellationToken cancellationToken) => QemuCrypto.RunKeyDerivation(context.Runner, command, cancellationToken);
}
