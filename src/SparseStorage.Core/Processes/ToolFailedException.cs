namespace SparseStorage.Core.Processes;

/// <summary>A tool ran and reported failure. Carries the command (never a secret: secrets go through stdin) and its stderr.</summary>
public class ToolFailedException : SparseStorageException
{
    public ToolFailedException(ToolResult result)
        : base("ToolFailed", StorageErrorKind.ToolFailed, Describe(result), result.Command.ToString())
    {
        Result = result;
    }

    protected ToolFailedException(string errorId, StorageErrorKind kind, string message, ToolResult result)
        : base(errorId, kind, message, result.Command.ToString())
    {
        Result = result;
    }

    public ToolResult Result { get; }
    public string Tool => Result.Command.Tool;
    public IReadOnlyList<string> Arguments => Result.Command.Arguments;
    public int ExitCode => Result.ExitCode;
    public string StandardError => Result.StandardError;

    private static string Describe(ToolResult result)
    {
        var detail = LastLines(result.StandardError.Length > 0 ? result.StandardError : result.StandardOutput);
        var pipeline = result.Pipeline is { } whole && !ReferenceEquals(whole, result.Command) ? $" in '{whole}'" : "";
        return $"'{result.Command}'{pipeline} failed with exit code {result.ExitCode}" + (detail.Length > 0 ? $": {detail}" : ".");
    }

    private static string LastLines(string text) =>
        string.Join(" ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(4));
}

public sealed class ToolTimeoutException(ToolResult result)
    : ToolFailedException("ToolTimedOut", StorageErrorKind.OperationTimeout,
        $"'{result.Command}' did not finish within {result.Command.Timeout} and was stopped.", result);

/// <summary>A tool the operation needs is not installed; names the Debian package that provides it.</summary>
public sealed class MissingToolException(string tool, string package)
    : SparseStorageException("ToolNotFound", StorageErrorKind.NotInstalled,
        $"The tool '{tool}' was not found on PATH or in /usr/sbin; install the Debian package '{package}' (apt-get install {package}).", tool)
{
    public string Tool { get; } = tool;
    public string Package { get; } = package;
}
