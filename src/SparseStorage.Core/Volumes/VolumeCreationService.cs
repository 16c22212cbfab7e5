using SparseStorage.Core.Ceph;
using SparseStorage.Core.Planning;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// New-SparseVolume's operation in any pool: an image file (<see cref="VolumeCreator"/>) in a directory pool, an RBD
/// image (<see cref="CephVolumeCreation"/>) in a Ceph pool. Which one is decided by where the request points: an
/// rbd: path, a Ceph pool by name, or a Ceph pool as the only pool.
/// </summary>
public sealed class VolumeCreationService(StorageContext context) : IPlannedOperation<NewVolumeRequest, OperationPlan, SparseVolume>
{
    public OperationPlan Plan(NewVolumeRequest request) =>
        CephVolumeCreation.Handles(context, request) ? new CephVolumeCreation(context).Plan(request) : new VolumeCreator(context).Plan(request);

    public SparseVolume Apply(OperationPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) => plan switch
    {
        CreateCephVolumePlan ceph => new CephVolumeCreation(context).Apply(ceph, progress, cancellationToken),
        CreateVolumePlan file => new VolumeCreator(context).Apply(file, progress, cancellationToken),
        _ => throw new ArgumentException($"{plan.GetType().Name} is not a plan of {nameof(VolumeCreationService)}.", nameof(plan)),
    };
}
