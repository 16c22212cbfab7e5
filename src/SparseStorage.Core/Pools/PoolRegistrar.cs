using SparseStorage.Core.Planning;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Pools;

/// <summary>
/// Registers and unregisters pools as plans. Apply changes the configuration under its file lock, where the pool
/// service checks again what the plan assumed (the name free, no overlap; no volume of the pool in use).
/// </summary>
public sealed class PoolRegistrar(StorageContext context)
    : IPlannedOperation<RegisterPoolRequest, RegisterPoolPlan, StoragePool>, IPlannedOperation<UnregisterPoolRequest, UnregisterPoolPlan, StoragePool>
{
    public RegisterPoolPlan Plan(RegisterPoolRequest request) =>
        new(request.Name, context.Pools.CheckRegistration(request.Name, request.Path, request.MaxOvercommit), request.MaxOvercommit, context.Pools.ConfigurationPath);

    public StoragePool Apply(RegisterPoolPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        // The directory is resolved again: a path swapped for a link since the plan would register another directory.
        PlanRecheck.RequireSameSteps(plan, Plan(new RegisterPoolRequest(plan.Name, plan.Directory, plan.MaxOvercommit)));
        StoragePool? registered = null;
        StepRunner.ForApply(context, progress, $"Registering pool {plan.Name}", cancellationToken)
            .Do(plan.Steps[0], () => registered = context.Pools.Register(plan.Name, plan.Directory, plan.MaxOvercommit));
        return registered!;
    }

    public UnregisterPoolPlan Plan(UnregisterPoolRequest request)
    {
        var pool = context.Pools.Registered(request.Name);
        PoolService.RequireNoVolumeInUse(pool, context.ReadAttachments());
        return new UnregisterPoolPlan(pool, context.Pools.ConfigurationPath);
    }

    /// <summary>Unregisters the pool and returns it as it was just before.</summary>
    public StoragePool Apply(UnregisterPoolPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        PlanRecheck.RequireSameSteps(plan, Plan(new UnregisterPoolRequest(plan.Pool.Name)));
        var described = context.Pools.Describe(plan.Pool);
        StepRunner.ForApply(context, progress, $"Unregistering pool {plan.Pool.Name}", cancellationToken)
            .Do(plan.Steps[0], () => context.Pools.Unregister(plan.Pool.Name, context.ReadAttachments()));
        return described;
    }
}
