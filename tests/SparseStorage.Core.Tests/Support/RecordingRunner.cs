using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Tests.Support;

/// <summary>A runner seam that records every command and answers from a script, for checking exact argument lists.</summary>
public sealed class RecordingRunner(Func<ToolCommand, ToolResult?>? answer = null) : IProcessRunner
{
    public List<ToolCommand> Commands { get; } = [];

    public ToolResult Run(ToolCommand command, CancellationToken cancellationToken = default)
    {
        lock (Commands)
            Commands.Add(command);
        return answer?.Invoke(command) ?? new ToolResult(command, 0, "", "", TimeSpan.Zero);
    }
}

/// <summary>Passes every command to a real runner but records it first (and can fail chosen tools).</summary>
public sealed class SpyRunner(IProcessRunner inner, Func<ToolCommand, bool>? fail = null) : IProcessRunner
{
    public List<ToolCommand> Commands { get; } = [];

    public ToolResult Run(ToolCommand command, CancellationToken cancellationToken = default)
    {
        // Some operations run two tools at once (a Ceph pool's listing).
        lock (Commands)
            Commands.Add(command);
        if (fail?.Invoke(command) == true)
            return new ToolResult(command, 1, "", "injected failure", TimeSpan.Zero);
        return inner.Run(command, cancellationToken);
    }
}
