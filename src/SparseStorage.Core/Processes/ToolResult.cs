namespace SparseStorage.Core.Processes;

public sealed record ToolResult(ToolCommand Command, int ExitCode, string StandardOutput, string StandardError, TimeSpan Duration)
{
    /// <summary>The pipeline the command ran in, when it was one tool of several (see <see cref="ToolCommand.InputFrom"/>).</summary>
    public ToolCommand? Pipeline { get; init; }

    public bool Succeeded => Command.SuccessExitCodes.Contains(ExitCode);

    public ToolResult EnsureSuccess() => Succeeded ? this : throw new ToolFailedException(this);
}
