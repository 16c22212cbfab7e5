namespace SparseStorage.Core.Tests.Support;

/// <summary>Keeps every progress report, synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
public sealed class RecordedProgress : IProgress<OperationProgress>
{
    private readonly List<OperationProgress> reports = [];

    public IReadOnlyList<OperationProgress> Reports
    {
        get
        {
            lock (reports)
                return reports.ToArray();
        }
    }

    public void Report(OperationProgress value)
    {
        lock (reports)
            reports.Add(value);
    }
}
