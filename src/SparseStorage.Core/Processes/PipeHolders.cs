using System.IO.Pipes;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Processes;

/// <summary>
/// The processes that still hold a tool's output pipe. A child the tool started in the background inherits the pipe and,
/// once the tool exits, is reparented to init: no process tree walk finds it any more, but /proc/PID/fd still names the
/// pipe ("pipe:[inode]"), so a runner that gives up on draining the output can stop what keeps it open.
/// </summary>
internal static class PipeHolders
{
    /// <summary>The pipe's name as /proc shows it ("pipe:[123]"), or null for anything that is not a pipe.</summary>
    public static string? NameOf(Stream stream)
    {
        try
        {
            return stream is PipeStream pipe ? LinkTarget($"/proc/self/fd/{pipe.SafePipeHandle.DangerousGetHandle()}") : null;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>Kills (SIGKILL) every process other than this one that holds one of the pipes.</summary>
    public static void Kill(IReadOnlyCollection<string> pipes)
    {
        if (pipes.Count == 0)
            return;
        foreach (var pid in Holders(pipes))
            Libc.kill(pid, 9);
    }

    private static IEnumerable<int> Holders(IReadOnlyCollection<string> pipes)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid) && pid != Environment.ProcessId && Holds(directory, pipes))
                yield return pid;
        }
    }

    private static bool Holds(string processDirectory, IReadOnlyCollection<string> pipes)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries(Path.Combine(processDirectory, "fd")).Any(fd => LinkTarget(fd) is { } target && pipes.Contains(target));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // gone meanwhile, or another user's process, which this one could not kill anyway
        }
    }

    private static string? LinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
