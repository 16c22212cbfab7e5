using System.Runtime.ExceptionServices;

namespace SparseStorage.Core.Native;

/// <summary>
/// Runs code inside a named network namespace (/run/netns/NAME, as `ip netns add` makes it). setns(2) moves only the
/// calling thread, so the work runs on a thread of its own that does nothing else and then ends; sockets it opens stay
/// in that namespace, and processes it starts are born there.
/// </summary>
public static class NetworkNamespace
{
    public const string Directory = "/run/netns";

    public static T Run<T>(string name, Func<T> work)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Enter(name);
                result = work();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }) { IsBackground = true, Name = $"netns {name}" };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    public static void Run(string name, Action work) => Run(name, () =>
    {
        work();
        return true;
    });

    /// <summary>The calling thread's network namespace as the kernel names it (net:[inode]).</summary>
    public static string Current() => ReadLink("/proc/thread-self/ns/net");

    /// <summary>A process's network namespace, or null when the process is gone or hidden.</summary>
    public static string? OfProcess(int pid)
    {
        try
        {
            return ReadLink($"/proc/{pid}/ns/net");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string ReadLink(string path) =>
        new FileInfo(path).LinkTarget ?? throw new IOException($"{path} is not a link.");

    private static void Enter(string name)
    {
        using var handle = Libc.Open(Path.Combine(Directory, name), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (Libc.setns((int)handle.DangerousGetHandle(), Libc.CLONE_NEWNET) != 0)
            throw Libc.ErrnoException($"setns {name}");
    }
}
