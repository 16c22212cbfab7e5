using System.Diagnostics;

namespace SparseStorage.Core.Tests.Support.Crash;

/// <summary>
/// Runs <see cref="CrashChild"/> in a child process, waits until it reports that it reached the dangerous moment, and
/// kills it with SIGKILL: no finally block, no Dispose, nothing of the child's runs after that.
/// </summary>
public static class CrashedOperation
{
    /// <summary>Runs the scenario, kills the child where it paused, and returns the dead child's pid.</summary>
    public static int RunAndKill(TestPool pool, string scenario, string volumePath, string? passphrase = null, params string[] extra)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { typeof(CrashChild).Assembly.Location, scenario, pool.ConfigPath, pool.Runtime.Root, volumePath }.Concat(extra))
            start.ArgumentList.Add(argument);
        using var child = Process.Start(start)!;
        var pid = child.Id;
        var errors = child.StandardError.ReadToEndAsync();
        child.StandardInput.WriteLine(passphrase ?? "");
        child.StandardInput.Close();
        var line = child.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromMinutes(3)) || line.Result != CrashChild.PausedLine)
        {
            var said = line.IsCompleted ? line.Result : "nothing";
            child.Kill();
            child.WaitForExit();
            throw new InvalidOperationException($"The {scenario} child never reached its pause (said '{said}'): {(errors.Wait(TimeSpan.FromSeconds(5)) ? errors.Result : "")}");
        }
        child.Kill(); // SIGKILL
        child.WaitForExit();
        return pid;
    }

    private static string DotnetHost() =>
        Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
}
