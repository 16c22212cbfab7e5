namespace SparseStorage.Core.Tests.Support;

/// <summary>Cancels an operation at its first progress report, so that it stops midway.</summary>
public sealed class CancelOnFirstReport(CancellationTokenSource cancel) : IProgress<OperationProgress>
{
    public void Report(OperationProgress value) => cancel.Cancel();
}
