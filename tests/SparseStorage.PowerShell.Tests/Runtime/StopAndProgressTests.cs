using System.Collections;
using System.Management.Automation;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>
/// Long work as a user at a prompt sees it: progress records while it runs, and Ctrl+C (PowerShell.Stop, which calls
/// StopProcessing) ending it promptly with PipelineStoppedException and nothing half-made left in the pool.
/// </summary>
[Collection(PowerShellRuntimeCollection.Name)]
public sealed class StopAndProgressTests(PowerShellRuntime runtime) : IDisposable
{
    private static readonly TimeSpan DoesNotHang = TimeSpan.FromMinutes(2);
    private readonly TempPool pool = new(runtime);

    [IntegrationFact("qemu-img")]
    public void Wiping_a_volume_reports_progress_from_start_to_completion()
    {
        var path = WithData(pool.NewVolume("wiped", "256MB"));

        var result = runtime.Run("Remove-SparseVolume -Path $Path -Wipe -Force", new Hashtable { ["Path"] = path }).Succeeded();

        result.Progress.Should().NotBeEmpty();
        result.Progress.Should().OnlyContain(p => p.Activity.Length > 0 && p.PercentComplete >= -1 && p.PercentComplete <= 100);
        result.Progress[^1].RecordType.Should().Be(ProgressRecordType.Completed);
        result.Progress.Select(p => p.ActivityId).Distinct().Should().ContainSingle("one operation, one progress bar");
        File.Exists(path).Should().BeFalse();
    }

    [IntegrationFact("qemu-img")]
    public void Ctrl_C_during_a_wipe_stops_it_and_keeps_the_volume()
    {
        var path = WithData(pool.NewVolume("big", "1GB"));

        var stopped = StopAtFirstProgress("Remove-SparseVolume -Path $Path -Wipe -Force", new Hashtable { ["Path"] = path });

        stopped.Terminating.Should().BeOfType<PipelineStoppedException>();
        pool.Names().Should().Equal("big.img");
    }

    [IntegrationFact("qemu-img")]
    public void Ctrl_C_during_a_copy_stops_it_and_leaves_no_copy_behind()
    {
        var path = WithData(pool.NewVolume("source", "1GB"));

        var stopped = StopAtFirstProgress("Copy-SparseVolume -Path $Path -Destination copy -DetectZeroes", new Hashtable { ["Path"] = path });

        stopped.Terminating.Should().BeOfType<PipelineStoppedException>();
        stopped.Output.Should().BeEmpty();
        pool.Names().Should().Equal("source.img");
    }

    public void Dispose() => pool.Dispose();

    /// <summary>Fills the image with data that is not zeros, so wiping and copying have every block to go through.</summary>
    private static string WithData(string path)
    {
        var block = new byte[4 << 20];
        Array.Fill(block, (byte)0xA5);
        using var image = new FileStream(path, FileMode.Open, FileAccess.Write);
        while (image.Position < image.Length)
            image.Write(block, 0, (int)Math.Min(block.Length, image.Length - image.Position));
        return path;
    }

    /// <summary>Runs the command and stops it as soon as it reports progress, as Ctrl+C would.</summary>
    private Invocation StopAtFirstProgress(string command, Hashtable parameters)
    {
        using var shell = PowerShellRuntime.Prepare(runtime.Runspace, command, parameters);
        using var reported = new ManualResetEventSlim();
        shell.Streams.Progress.DataAdded += (_, _) => reported.Set();
        var running = shell.BeginInvoke();
        return Invocation.Of(shell, () =>
        {
            var waited = WaitHandle.WaitAny([reported.WaitHandle, running.AsyncWaitHandle], DoesNotHang);
            waited.Should().Be(0, "the command reports progress before it finishes");
            shell.Stop();
            running.AsyncWaitHandle.WaitOne(DoesNotHang).Should().BeTrue("a stopped command ends");
            return shell.EndInvoke(running);
        });
    }
}
