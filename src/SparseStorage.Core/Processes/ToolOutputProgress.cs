namespace SparseStorage.Core.Processes;

/// <summary>Reads progress from a tool's output lines (standard output and standard error) and reports it as it comes.</summary>
public sealed record ToolOutputProgress(IProgress<OperationProgress> Sink, Func<string, OperationProgress?> Read)
{
    public void Report(string line)
    {
        if (Read(line) is { } progress)
            Sink.Report(progress);
    }
}
