namespace SparseStorage.Core.Processes;

public sealed record ToolResult(ToolCommand Command, int ExitCode, string StandardOutput, string StandardError, TimeSpan Duration)
{
    public bool Succeeded => Command.SuccessExitCodes.Contains(ExitCode);

    public ToolResult EnsureSuccess() => Succeeded ? this : throw new ToolFailedException(this);
}
