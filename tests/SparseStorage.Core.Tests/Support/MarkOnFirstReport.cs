namespace SparseStorage.Core.Tests.Support;

/// <summary>Passes reports on and creates a file at the first one, so that a fake tool can tell it was heard while running.</summary>
public sealed class MarkOnFirstReport(IProgress<OperationProgress> inner, string markerFile) : IProgress<OperationProgress>
{
    public void Report(OperationProgress value)
    {
        inner.Report(value);
        if (!File.Exists(markerFile))
            File.WriteAllText(markerFile, "");
    }
}
