namespace SparseStorage.Core.Planning;

/// <summary>
/// A state-changing operation in two halves: <see cref="Plan"/> checks the request and says what would happen,
/// changing nothing; <see cref="Apply"/> takes the lock, re-checks what the plan assumed, and runs exactly its steps.
/// </summary>
public interface IPlannedOperation<in TRequest, TPlan, out TResult> where TPlan : OperationPlan
{
    TPlan Plan(TRequest request);

    TResult Apply(TPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default);
}
