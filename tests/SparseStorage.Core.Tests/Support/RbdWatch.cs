using System.Diagnostics;
using SparseStorage.Core.Ceph;

namespace SparseStorage.Core.Tests.Support;

/// <summary>Keeps an image open (an RBD watcher, as another host's client would) with <c>rbd watch</c> as client.admin until disposed.</summary>
public sealed class RbdWatch : IDisposable
{
    private readonly Process process;

    private RbdWatch(Process process) => this.process = process;

    /// <summary>Starts <c>rbd watch</c> and returns once the cluster lists it among the image's watchers.</summary>
    public static RbdWatch Start(CephLab lab, CephPoolSettings settings, string image)
    {
        var process = Process.Start(new ProcessStartInfo("rbd",
            ["--conf", lab.ConfigPath, "--id", "admin", "--keyring", lab.AdminKeyring, "watch", "--pool", settings.Pool, "--namespace", settings.Namespace!, image])
        {
            // rbd watch runs until its input ends: an open pipe keeps it watching.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var watch = new RbdWatch(process);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!lab.Rbd("status", "--format", "json", "--pool", settings.Pool, "--namespace", settings.Namespace!, "--image", image).Contains("\"address\"", StringComparison.Ordinal))
            {
                if (process.HasExited || DateTime.UtcNow > deadline)
                    throw new InvalidOperationException("rbd watch did not open the image: " + process.StandardError.ReadToEnd());
                Thread.Sleep(200);
            }
            return watch;
        }
        catch
        {
            watch.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            process.Kill(entireProcessTree: true);
        process.WaitForExit();
        process.Dispose();
    }
}
