using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace SparseStorage.PowerShell.Tests.Plans;

/// <summary>
/// A network namespace made for one test, holding a veth pair (<see cref="ExportInterface"/> for vblade,
/// <see cref="InitiatorInterface"/> for Find-AtaoeDisk); no interface of the machine is involved. <see cref="Run{T}"/>
/// does its work on a thread moved into the namespace (setns moves only the calling thread; threads and processes it
/// starts are born there), so a runspace opened and run there exports inside it. Dispose kills every process living
/// in the namespace (by pid, nothing else) and deletes it, which removes the pair, also after a failure.
/// </summary>
public sealed partial class NetworkNamespaceLab : IDisposable
{
    private const int CLONE_NEWNET = 0x40000000;

    public NetworkNamespaceLab()
    {
        Name = $"sstps-{Guid.NewGuid().ToString("N")[..6]}";
        Ip("netns", "add", Name);
        try
        {
            Ip("-n", Name, "link", "add", ExportInterface, "type", "veth", "peer", "name", InitiatorInterface);
            Ip("-n", Name, "link", "set", ExportInterface, "up");
            Ip("-n", Name, "link", "set", InitiatorInterface, "up");
            Identity = Run(() => ReadLink("/proc/thread-self/ns/net")) ?? throw new IOException($"The network namespace of {Name} cannot be read.");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Name { get; }
    /// <summary>The namespace as the kernel names it in /proc/PID/ns/net (net:[inode]).</summary>
    public string Identity { get; } = "";
    public string ExportInterface => "aoe0";
    public string InitiatorInterface => "init0";
    private string Handle => Path.Combine("/run/netns", Name);

    public T Run<T>(Func<T> work)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using (var handle = File.OpenHandle(Handle))
                    if (setns(handle.DangerousGetHandle().ToInt32(), CLONE_NEWNET) != 0)
                        throw new IOException($"setns {Name} failed: errno {Marshal.GetLastPInvokeError()}");
                result = work();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }) { Name = $"netns {Name}" };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    public void Run(Action work) => Run(() =>
    {
        work();
        return true;
    });

    /// <summary>Live processes in the namespace, as "pid: command line".</summary>
    public IReadOnlyList<string> ProcessesInside()
    {
        if (Identity.Length == 0)
            return [];
        var found = new List<string>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || ReadLink(Path.Combine(directory, "ns", "net")) != Identity)
                continue;
            var commandLine = TryRead(Path.Combine(directory, "cmdline")).Replace('\0', ' ').Trim();
            if (commandLine.Length > 0)
                found.Add($"{pid}: {commandLine}");
        }
        return found;
    }

    /// <summary>What is still there after Dispose: processes in the namespace, and the namespace itself.</summary>
    public IReadOnlyList<string> LeftBehind() => [.. ProcessesInside(), .. File.Exists(Handle) ? [$"namespace {Name}"] : Array.Empty<string>()];

    public void Dispose()
    {
        foreach (var process in ProcessesInside())
            Kill(int.Parse(process[..process.IndexOf(':')]));
        if (File.Exists(Handle))
            Ip("netns", "delete", Name);
    }

    private static void Ip(params string[] arguments)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}");
    }

    private static void Kill(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
            process.WaitForExit(5000);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Gone already.
        }
    }

    private static string? ReadLink(string path)
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

    private static string TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);
}
