using SparseStorage.Core.Ceph;
using SparseStorage.Core.Planning;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Remove-SparseVolume's operation in any pool: an image file (<see cref="VolumeRemover"/>), or an RBD image with its
/// mount-lock object (<see cref="CephVolumeRemoval"/>) for a volume whose path is rbd:POOL[/NAMESPACE]/IMAGE.
/// </summary>
public sealed class VolumeRemovalService(StorageContext context) : IPlannedOperation<RemoveVolumeRequest, OperationPlan, SparseVolume>
{
    public OperationPlan Plan(RemoveVolumeRequest request) =>
        CephPoolSettings.IsRbdPath(request.Volume.Path)
            ? new CephVolumeRemoval(context).Plan(new RemoveCephVolumeRequest(request.Volume, request.Wipe))
            : new VolumeRemover(context).Plan(request);

    public SparseVolume Apply(OperationPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) => plan switch
    {
        RemoveCephVolumePlan ceph => new CephVolumeRemoval(context).Apply(ceph, progress, cancellationToken),
        RemoveVolumePlan file => new VolumeRemover(context).Apply(file, progress, cancellationToken),
        _ => throw new ArgumentException($"{plan.GetType().Name} is not a plan of {nameof(VolumeRemovalService)}.", nameof(plan)),
    };
}
