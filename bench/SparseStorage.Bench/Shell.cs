using System.Diagnostics;

namespace SparseStorage.Bench;

/// <summary>Runs a tool with an argument list (no shell) and returns its standard output.</summary>
internal static class Shell
{
    public static string Run(string tool, params string[] arguments)
    {
        var (exitCode, stdout, stderr) = TryRun(tool, arguments);
        return exitCode == 0 ? stdout
            : throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} failed ({exitCode}): {stderr.Trim()}");
    }

    public static (int ExitCode, string Stdout, string Stderr) TryRun(string tool, params string[] arguments)
    {
        using var process = Start(tool, arguments);
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.GetAwaiter().GetResult());
    }

    private static Process Start(string tool, string[] arguments)
    {
        var info = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        return Process.Start(info) ?? throw new InvalidOperationException($"{tool} did not start");
    }
}
