namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>
/// A runtime test on real tools, loop devices or mounts, as in SparseStorage.Core.Tests: skipped with the reason where
/// root or a tool is missing, unless SPARSESTORAGE_INTEGRATION=require (CI), where a missing prerequisite fails it.
/// </summary>
public sealed class IntegrationFactAttribute : FactAttribute
{
    public IntegrationFactAttribute(params string[] tools) => Skip = Prerequisites.SkipReason(tools);
}

public static class Prerequisites
{
    private static bool Required =>
        string.Equals(Environment.GetEnvironmentVariable("SPARSESTORAGE_INTEGRATION"), "require", StringComparison.OrdinalIgnoreCase);

    public static string? SkipReason(IEnumerable<string> tools)
    {
        if (Required)
            return null;
        if (!Environment.IsPrivilegedProcess)
            return "needs root for loop devices and mounts (set SPARSESTORAGE_INTEGRATION=require to fail instead)";
        var absent = tools.Where(t => !OnPath(t)).ToList();
        return absent.Count == 0 ? null : $"needs {string.Join(", ", absent)} (set SPARSESTORAGE_INTEGRATION=require to fail instead)";
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Concat(["/usr/sbin", "/sbin"]).Any(directory => File.Exists(Path.Combine(directory, tool)));
}

public sealed class IntegrationTheoryAttribute : TheoryAttribute
{
    public IntegrationTheoryAttribute(params string[] tools) => Skip = Prerequisites.SkipReason(tools);
}
