using SparseStorage.Core.Planning;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>A new RBD image as planned: where, how large, which filesystem, and the steps that make it.</summary>
public sealed record CreateCephVolumePlan(string PoolName, string Image, string VolumePath, ByteSize Size, FileSystemType FileSystem, string? Label,
    IReadOnlyList<string> PlannedSteps) : OperationPlan
{
    public override string Target => VolumePath;
    public override string Action => "Create volume";
    public override IReadOnlyList<string> Steps => PlannedSteps;
}

/// <summary>
/// Creates a volume in a Ceph pool: a thin RBD image (<c>rbd create</c>: nothing is stored until written), and, with a
/// filesystem, mkfs on the image exported over FUSE by qemu-storage-daemon (qemu's rbd driver, no kernel module).
/// A failure after the image exists removes it again.
/// </summary>
public sealed class CephVolumeCreation(StorageContext context) : IPlannedOperation<NewVolumeRequest, CreateCephVolumePlan, SparseVolume>
{
    private const long SectorSize = 512;

    /// <summary>Whether a New-SparseVolume request goes to a Ceph pool: an rbd: path, a Ceph pool by name, or the only pool.</summary>
    public static bool Handles(StorageContext context, NewVolumeRequest request) =>
        request.Path is { } path ? CephPoolSettings.IsRbdPath(path)
        : request.Pool is { } pool ? context.Pools.Find(pool).IsCeph
        : context.Pools.Definitions() is [{ IsCeph: true }];

    public CreateCephVolumePlan Plan(NewVolumeRequest request)
    {
        if (request.Format != VolumeFormat.Raw)
            throw new InvalidStorageArgumentException("UnsupportedFormat", $"A volume in a Ceph pool is an RBD image, which is raw; -Format {request.Format} is not available there.", request.Format);
        if (request.Preallocation != Preallocation.Sparse)
            throw new InvalidStorageArgumentException("UnsupportedPreallocation", "RBD images are always thin: a Ceph pool cannot reserve a volume's space in advance (-Preallocation Full).", request.Preallocation);
        if (request.Replace)
            throw new InvalidStorageArgumentException("ReplaceNotSupported", "A volume in a Ceph pool is not replaced in place; remove the existing one first (Remove-SparseVolume).", request.Name ?? request.Path);
        var size = request.Size.RequirePositive("-Size").RoundUpTo(SectorSize);
        FileSystemRules.Validate(request.FileSystem, size, request.Label);
        var (definition, image) = Resolve(request);
        var warnings = Check(definition, image, size);
        var plan = new CreateCephVolumePlan(definition.Name, image, definition.Ceph!.ImagePath(image), size, request.FileSystem, request.Label, [])
        {
            Warnings = warnings,
        };
        var dryRun = StepRunner.ForPlan(context);
        Run(dryRun, plan, definition.Ceph!);
        return plan with { PlannedSteps = dryRun.Steps };
    }

    public SparseVolume Apply(CreateCephVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.VolumePath, cancellationToken);
        var definition = context.Pools.Find(plan.PoolName);
        if (definition.Ceph?.ImagePath(plan.Image) != plan.VolumePath)
            throw new StorageOperationException("PoolChanged", $"Pool '{plan.PoolName}' is no longer {plan.VolumePath}'s pool; nothing was created.", plan.PoolName);
        Check(definition, plan.Image, plan.Size);
        Run(StepRunner.ForApply(context, progress, $"Creating {plan.Image}", cancellationToken), plan, definition.Ceph!);
        return new CephPool(context.Runner, definition).Volume(plan.Image, cancellationToken);
    }

    /// <summary>The image must not exist yet; the warnings of promising its size in the pool.</summary>
    private IReadOnlyList<string> Check(PoolDefinition definition, string image, ByteSize size)
    {
        var pool = new CephPool(context.Runner, definition);
        var images = pool.Images();
        if (images.Any(i => i.Name == image))
            throw new ResourceExistsException("VolumeExists", $"Pool '{definition.Name}' already has a volume named '{image}' ({definition.Ceph!.ImagePath(image)}); remove it first.", image);
        return ProvisioningGuard.Check(pool.Describe(images), size.Bytes, $"Creating {image} ({size})");
    }

    private void Run(StepRunner steps, CreateCephVolumePlan plan, CephPoolSettings settings)
    {
        var tools = new CephTools(settings);
        steps.Tool(tools.Create(plan.Image, plan.Size.Bytes));
        if (plan.FileSystem == FileSystemType.None)
            return;
        try
        {
            MakeFileSystem(steps, plan, settings);
        }
        catch when (!steps.DryRun)
        {
            // The image holds nothing yet: remove it, so that a failed creation leaves nothing behind.
            context.Runner.Run(tools.Remove(plan.Image), CancellationToken.None);
            throw;
        }
    }

    private void MakeFileSystem(StepRunner steps, CreateCephVolumePlan plan, CephPoolSettings settings)
    {
        var export = new RbdExport(context, settings, plan.Image);
        var record = export.Start(steps);
        try
        {
            // A new image reads as zeros: mkfs need not zero or discard anything (keepAllocation: no discard pass over
            // a multi-terabyte image through librbd).
            steps.Tool(FileSystemRules.MakeCommand(plan.FileSystem, export.ExportPath, plan.Label, keepAllocation: true, zeroedImage: true));
        }
        finally
        {
            export.Stop(steps, record);
        }
    }

    private (PoolDefinition Pool, string Image) Resolve(NewVolumeRequest request)
    {
        if (request.Path is { } path)
        {
            foreach (var definition in context.Pools.Definitions().Where(d => d.IsCeph))
                if (definition.Ceph!.ImageOf(path) is { } image)
                    return (definition, Names.RequireValid(image, "Volume"));
            throw new PathOutsidePoolException($"'{path}' names no image of a registered Ceph pool; register its pool with Register-StoragePool -CephPool.", path);
        }
        var pool = request.Pool is null ? context.Pools.Definitions().Single() : context.Pools.Find(request.Pool);
        return (pool, Names.RequireValid(request.Name ?? "", "Volume"));
    }
}
