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

    /// <summary>Long work on a volume full of data, each kind of it stopped as soon as it reports progress.</summary>
    public static TheoryData<string> LongCommands => new()
    {
        "Remove-SparseVolume -Path $Path -Wipe -Force",
        "Copy-SparseVolume -Path $Path -Destination copy -DetectZeroes",
        "Optimize-SparseVolume -Path $Path",
        "New-VolumeSnapshot -VolumePath $Path -Name s1",
        "Backup-SparseVolume -Path $Path -Destination $Spare",
        "Compress-SparseVolume -Path $Path -Destination $Spare",
    };

    [IntegrationTheory("qemu-img", "tar", "zstd")]
    [MemberData(nameof(LongCommands))]
    public void Ctrl_C_stops_long_work_and_leaves_nothing_half_made(string command)
    {
        var path = WithData(pool.NewVolume("big", "512MB"));
        var spare = pool.Spare;
        var stopped = StopAtFirstProgress(command, new Hashtable { ["Path"] = path, ["Spare"] = spare });

        stopped.Terminating.Should().BeOfType<PipelineStoppedException>();
        stopped.Output.Should().BeEmpty();
        // A cancelled first raw snapshot leaves its empty side folder (.snapshots/big.img/); no file is left half-written.
        Directory.EnumerateFiles(pool.Directory, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(pool.Directory, p))
            .Should().Equal("big.img");
        Directory.EnumerateFiles(spare, "*", SearchOption.AllDirectories).Should().BeEmpty();
        runtime.Run("Get-VolumeSnapshot -VolumePath $Path", new Hashtable { ["Path"] = path }).Succeeded().Output.Should().BeEmpty();
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
