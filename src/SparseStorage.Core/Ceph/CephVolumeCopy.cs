using SparseStorage.Core.Copying;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>A copy of an RBD image in its own pool, as planned: a clone of a new protected snapshot, or a deep copy.</summary>
public sealed record CopyCephVolumePlan(SparseVolume Source, string Image, string DestinationImage, string DestinationPath, bool Linked, IReadOnlyList<string> PlannedSteps) : OperationPlan
{
    /// <summary>The snapshot a linked clone is made from: named after the clone, kept (protected) while the clone needs it.</summary>
    public string SnapshotName => "clone-" + DestinationImage;
    public override string Target => DestinationPath;
    public override string Action => Linked
        ? $"Create volume as an RBD clone of {Source.Path}@{SnapshotName}"
        : $"Create volume as a deep copy of {Source.Path} with its snapshots";
    public override IReadOnlyList<string> Steps => PlannedSteps;
}

/// <summary>
/// Copy-SparseVolume of a volume of a Ceph pool, inside that pool: with -Linked an RBD clone (a new snapshot of the
/// source, protected, and <c>rbd clone</c>; the clone reads through it until flattened), else <c>rbd deep cp</c>,
/// which copies the image with its snapshots. Refused while the source is open by any client.
/// </summary>
public sealed class CephVolumeCopy(StorageContext context) : IPlannedOperation<(SparseVolume Source, CopyVolumeRequest Request), CopyCephVolumePlan, SparseVolume>
{
    public CopyCephVolumePlan Plan((SparseVolume Source, CopyVolumeRequest Request) copy)
    {
        var (source, request) = copy;
        var (pool, image) = Resolve(source.Path);
        if (request.Replace || request.DetectZeroes || request.AllowInUseSource)
            throw new InvalidStorageArgumentException("CephVolumeNotSupported",
                "-Replace, -DetectZeroes and -AllowInUseSource do not apply to a copy of a volume of a Ceph pool.", source.Path);
        var destination = DestinationImage(pool.Settings, request.Destination);
        Names.RequireValid(destination, "Volume");
        if (CephListing.Names(context.Runner.RunChecked(pool.Tools.ListNames()).StandardOutput).Contains(destination))
            throw new ResourceExistsException("VolumeExists", $"Ceph pool '{source.Pool}' already has an image '{destination}'.", destination);
        var watchers = CephListing.Watchers(context.Runner.RunChecked(pool.Tools.Status(image)).StandardOutput);
        if (watchers.Count > 0 || FuseExportRecord.Read(context.Runtime.FuseExports, source.Path) is not null)
            throw new VolumeInUseException(
                $"Volume '{source.Name}' is open ({(watchers.Count > 0 ? string.Join(", ", watchers) + ", RBD watchers" : "exported on this host")}); close it before copying it.", source.Path);
        var plan = new CopyCephVolumePlan(source, image, destination, pool.Settings.ImagePath(destination), request.Linked, []);
        var steps = StepRunner.ForPlan(context);
        Run(steps, plan, pool.Tools);
        return plan with { PlannedSteps = steps.Steps };
    }

    public SparseVolume Apply(CopyCephVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Source.Path, cancellationToken);
        var current = Plan((new VolumeCatalog(context).Get(plan.Source.Path), new CopyVolumeRequest { Destination = plan.DestinationImage, Linked = plan.Linked }));
        Snapshots.SnapshotService.RequireUnchanged(plan, current, true);
        var (pool, _) = Resolve(plan.Source.Path);
        Run(StepRunner.ForApply(context, progress, $"Copying {plan.Source.Name}", cancellationToken), current, pool.Tools);
        return new VolumeCatalog(context).Get(current.DestinationPath);
    }

    private static void Run(StepRunner steps, CopyCephVolumePlan plan, CephTools tools)
    {
        var location = DestinationOptions(tools.Settings, plan.DestinationImage);
        if (plan.Linked)
        {
            steps.Tool(tools.CreateSnapshot(plan.Image, plan.SnapshotName));
            steps.Tool(tools.Rbd("snap", "protect", "--image", plan.Image, "--snap", plan.SnapshotName));
            steps.Tool(tools.Rbd(["clone", "--image", plan.Image, "--snap", plan.SnapshotName, .. location]));
        }
        else
            steps.Tool(tools.Rbd(["deep", "cp", "--no-progress", "--image", plan.Image, .. location]));
    }

    private static string[] DestinationOptions(CephPoolSettings settings, string image) =>
        ["--dest", image, "--dest-pool", settings.Pool, .. settings.Namespace is null ? Array.Empty<string>() : ["--dest-namespace", settings.Namespace]];

    /// <summary>A name, or an rbd: path in the source's pool: copies stay in the pool (other pools have other clients and keys).</summary>
    private static string DestinationImage(CephPoolSettings settings, string destination) =>
        !destination.Contains('/') && !destination.Contains(':') ? destination
        : settings.ImageOf(destination) ?? throw new InvalidStorageArgumentException("CephVolumeNotSupported",
            $"A volume of Ceph pool {settings.Location} is copied only within that pool; give the copy's name, not '{destination}'.", destination);

    private (CephPool Pool, string Image) Resolve(string volumePath)
    {
        foreach (var definition in context.Pools.Definitions().Where(d => d.IsCeph))
            if (definition.Ceph!.ImageOf(volumePath) is { } image)
                return (new CephPool(context.Runner, definition), image);
        throw new PathOutsidePoolException($"'{volumePath}' names no image of a registered Ceph pool.", volumePath);
    }
}
