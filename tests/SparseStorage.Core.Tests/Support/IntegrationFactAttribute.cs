using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Tests.Support;

/// <summary>
/// A test on real tools, loop devices and mounts. It skips, with the reason, where root or a tool is missing —
/// unless SPARSESTORAGE_INTEGRATION=require (set by CI), where it runs and a missing prerequisite fails it.
/// </summary>
public sealed class IntegrationFactAttribute : FactAttribute
{
    public IntegrationFactAttribute(params string[] tools) => Skip = Prerequisites.SkipReason(tools);
}

public sealed class IntegrationTheoryAttribute : TheoryAttribute
{
    public IntegrationTheoryAttribute(params string[] tools) => Skip = Prerequisites.SkipReason(tools);
}

public static class Prerequisites
{
    public static bool Required =>
        string.Equals(Environment.GetEnvironmentVariable("SPARSESTORAGE_INTEGRATION"), "require", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why the test cannot run here, or null; always null when CI requires integration tests.</summary>
    public static string? SkipReason(IEnumerable<string> tools) => Required ? null : Missing(tools);

    private static string? Missing(IEnumerable<string> tools)
    {
        if (Libc.geteuid() != 0)
            return "needs root for loop devices and mounts (set SPARSESTORAGE_INTEGRATION=require to fail instead)";
        if (!File.Exists("/dev/loop-control"))
            return "needs the loop driver";
        var absent = tools.Where(t => ToolLocator.Default.TryLocate(t) is null).ToList();
        return absent.Count == 0 ? null : $"needs {string.Join(", ", absent)} (set SPARSESTORAGE_INTEGRATION=require to fail instead)";
    }
}

/// <summary>
/// A test of the dm-crypt path: it needs a kernel with device-mapper, which some hosts (and containers) lack; there it
/// skips even when CI requires integration tests, since no package can add a kernel driver. The userspace path is
/// covered by the same scenarios in ordinary integration tests.
/// </summary>
public sealed class DeviceMapperFactAttribute : FactAttribute
{
    public DeviceMapperFactAttribute(params string[] tools) =>
        Skip = Encryption.DmCryptMapping.IsAvailable ? Prerequisites.SkipReason(tools) : "needs device-mapper in the kernel (not in /proc/misc on this host)";
}
