namespace SparseStorage.Core.Processes;

/// <summary>The seam between Core and the programs it starts; tests substitute it to check exact argument lists.</summary>
public interface IProcessRunner
{
    /// <summary>Runs the command to completion. Never throws for a non-zero exit; see <see cref="ToolResult.EnsureSuccess"/>.</summary>
    ToolResult Run(ToolCommand command, CancellationToken cancellationToken = default);
}

public static class ProcessRunnerExtensions
{
    /// <summary>Runs the command and throws <see cref="ToolFailedException"/> unless its exit code counts as success.</summary>
    public static ToolResult RunChecked(this IProcessRunner runner, ToolCommand command, CancellationToken cancellationToken = default) =>
        runner.Run(command, cancellationToken).EnsureSuccess();
}
