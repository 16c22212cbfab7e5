using SparseStorage.Core.Backups;
using SparseStorage.Core.Copying;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Host;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Support.Crash;

/// <summary>
/// The test assembly run as a program: it performs one real operation on a test pool and, at the moment a test wants
/// to kill it, prints <see cref="PausedLine"/> and waits forever, so that the test's SIGKILL lands there. Arguments:
/// scenario, pool configuration, runtime directory, volume path, then the scenario's own; a passphrase on stdin.
/// </summary>
public static class CrashChild
{
    public const string PausedLine = "paused";

    public static int Main(string[] args)
    {
        if (args.Length < 4)
            return 2;
        var (scenario, config, runtime, volumePath) = (args[0], args[1], args[2], args[3]);
        var pauseAfterTool = scenario == "unlock" ? "qemu-storage-daemon" : null;
        var context = new StorageContext(new PoolService(new PoolConfiguration(config)), new PausingRunner(pauseAfterTool), new RuntimePaths(runtime), isRoot: true);
        var volume = new VolumeCatalog(context).Get(volumePath);
        // Counts the reports of the work itself: a backup's steps report as they start (with no total), its reading with one.
        var pause = new PauseAtReport(scenario switch { "protect" => p => p.Activity == "Encrypting", "backup" => p => p.Total > 0, _ => _ => true }, 2);
        switch (scenario)
        {
            case "unlock":
                using (var key = VolumeKey.FromPassphrase(Console.In.ReadLine()!))
                    Encrypting.Unlock(context, volume, [key]);
                break;
            case "protect":
                using (var key = VolumeKey.FromPassphrase(Console.In.ReadLine()!))
                    Encrypting.Protect(context, volume, [key], pause);
                break;
            case "copy":
                var copier = new VolumeCopier(context);
                copier.Copy(copier.Plan(volume, new CopyVolumeRequest { Destination = args[4] }), pause);
                break;
            case "backup":
                var backups = new VolumeBackupService(context);
                backups.Apply(backups.Plan(volume, new BackupRequest { Destination = args[4] }), pause);
                break;
            default:
                return 2;
        }
        return 0; // the test kills the process before it gets here
    }

    /// <summary>Tells the test where the operation stands and never returns.</summary>
    internal static void Pause()
    {
        Console.Out.WriteLine(PausedLine);
        Console.Out.Flush();
        Thread.Sleep(Timeout.Infinite);
    }

    /// <summary>Pauses at the <paramref name="report"/>-th progress report that <paramref name="counts"/> accepts.</summary>
    private sealed class PauseAtReport(Func<OperationProgress, bool> counts, int report) : IProgress<OperationProgress>
    {
        private int reports;

        public void Report(OperationProgress value)
        {
            if (counts(value) && Interlocked.Increment(ref reports) == report)
                Pause();
        }
    }

    /// <summary>Runs every tool for real; after the first run of <paramref name="tool"/> it pauses, with the tool's work done.</summary>
    private sealed class PausingRunner(string? tool) : IProcessRunner
    {
        private readonly ProcessRunner real = new();

        public ToolResult Run(ToolCommand command, CancellationToken cancellationToken = default)
        {
            var result = real.Run(command, cancellationToken);
            if (command.Tool == tool)
                Pause();
            return result;
        }
    }
}
