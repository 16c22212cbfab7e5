using System.Diagnostics;
using System.Text;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

/// <summary>
/// The runner against small real programs (sh, cat, sleep) standing in for the storage tools. The fake tools are
/// sh scripts given with -c here, in the tests only; product code never runs a shell.
/// </summary>
public sealed class ProcessRunnerTests : IDisposable
{
    private readonly ProcessRunner runner = new();
    private readonly TempDirectory scratch = new("runner");

    public void Dispose() => scratch.Dispose();

    [Fact]
    public void Passes_arguments_one_by_one_without_a_shell()
    {
        var result = runner.Run(new ToolCommand("printf", "%s|", "a b", "$HOME", "'q'", "*"));
        result.ExitCode.Should().Be(0);
        result.StandardOutput.Should().Be("a b|$HOME|'q'|*|");
    }

    [Fact]
    public void Feeds_standard_input_and_collects_both_streams()
    {
        var result = runner.Run(new ToolCommand("sh", "-c", "cat; echo oops >&2") { StandardInput = Encoding.UTF8.GetBytes("secret-free input") });
        result.StandardOutput.Should().Be("secret-free input");
        result.StandardError.Should().Be("oops\n");
        result.Succeeded.Should().BeTrue();
    }

    [Fact]
    public void An_output_sink_reads_the_bytes_and_its_failure_stops_a_tool_that_would_write_forever()
    {
        var received = new MemoryStream();
        var result = runner.Run(new ToolCommand("printf", "a\\0b") { StandardOutputSink = (output, _) => output.CopyTo(received) });
        result.StandardOutput.Should().BeEmpty();
        received.ToArray().Should().Equal((byte)'a', 0, (byte)'b');

        var clock = Stopwatch.StartNew();
        var refusal = () => runner.Run(new ToolCommand("yes") { StandardOutputSink = (output, _) => throw new InvalidDataException("refused"), Timeout = TimeSpan.FromMinutes(5) });
        refusal.Should().Throw<InvalidDataException>().WithMessage("refused");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromMinutes(1), "the tool is killed, not waited for");
    }

    [Fact]
    public void Decides_success_by_exit_code_and_reports_stderr_in_the_failure()
    {
        var result = runner.Run(new ToolCommand("sh", "-c", "echo progress >&2; exit 3"));
        result.ExitCode.Should().Be(3);
        var act = () => result.EnsureSuccess();
        act.Should().Throw<ToolFailedException>()
            .Where(e => e.ExitCode == 3 && e.Tool == "sh" && e.StandardError == "progress\n" && e.Message.Contains("exit code 3: progress"));
        runner.Run(new ToolCommand("sh", "-c", "echo warning >&2; exit 0")).Succeeded.Should().BeTrue();
    }

    [Fact]
    public void Accepts_other_success_codes_when_told()
    {
        runner.Run(new ToolCommand("sh", "-c", "exit 1") { SuccessExitCodes = [0, 1] }).Succeeded.Should().BeTrue();
    }

    [Fact]
    public void Kills_the_process_tree_on_timeout()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"runner-{Guid.NewGuid():N}");
        var command = new ToolCommand("sh", "-c", $"sleep 30 & echo $! > {marker}; wait") { Timeout = TimeSpan.FromMilliseconds(500) };
        var clock = Stopwatch.StartNew();
        var act = () => runner.Run(command);
        act.Should().Throw<ToolTimeoutException>().Where(e => e.ErrorId == "ToolTimedOut");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
        var child = int.Parse(File.ReadAllText(marker).Trim());
        File.Delete(marker);
        SpinWait.SpinUntil(() => !IsRunning(child), TimeSpan.FromSeconds(5));
        IsRunning(child).Should().BeFalse("the grandchild sleep must be killed with its parent");
    }

    [Fact]
    public void Cancellation_stops_the_tool_and_surfaces_as_cancellation()
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var act = () => runner.Run(new ToolCommand("sleep", "30"), cancellation.Token);
        act.Should().Throw<OperationCanceledException>();
    }

    [Fact]
    public void Names_the_package_of_a_missing_tool()
    {
        var locator = new ToolLocator(["/nonexistent"]);
        var act = () => new ProcessRunner(locator).Run(new ToolCommand("qemu-img", "info"));
        act.Should().Throw<MissingToolException>()
            .Where(e => e.Package == "qemu-utils" && e.Message.Contains("apt-get install qemu-utils") && e.ErrorId == "ToolNotFound");
    }

    [Fact]
    public void Shows_commands_as_a_person_would_type_them()
    {
        new ToolCommand("mkfs.ext4", "-L", "my label", "/p/a,b.img").ToString().Should().Be("mkfs.ext4 -L 'my label' /p/a,b.img");
        new ToolCommand("qemu-img", "create", "-f", "qcow2", "/p/x.qcow2", ToolCommand.Number(10737418240)).ToString()
            .Should().Be("qemu-img create -f qcow2 /p/x.qcow2 10737418240");
    }

    [Fact]
    public void Passes_awkward_arguments_exactly()
    {
        string[] arguments = ["", "a\\", "\"q\"", "back\\\"slash", "tab\there", "new\nline", "ümlaut"];
        var result = runner.Run(new ToolCommand("printf", ["%s|", .. arguments]));
        result.StandardOutput.Should().Be(string.Join("", arguments.Select(a => a + "|")));
    }

    [Fact]
    public void A_tool_that_stops_reading_its_input_fails_by_its_exit_code_not_as_a_cancellation()
    {
        var endless = new ToolCommand("sh", "-c", "head -c 10 >/dev/null; exit 3")
        {
            StandardInputSource = (input, token) =>
            {
                var block = new byte[1 << 16];
                while (true)
                {
                    token.ThrowIfCancellationRequested();
                    input.Write(block);
                }
            },
        };
        runner.Run(endless).ExitCode.Should().Be(3);
    }

    [Fact]
    public void A_failure_of_the_input_source_is_thrown_even_when_the_tool_succeeds()
    {
        var failing = new ToolCommand("cat") { StandardInputSource = (_, _) => throw new IOException("the image could not be read") };
        var act = () => runner.Run(failing);
        act.Should().Throw<IOException>().WithMessage("the image could not be read");
    }

    [Fact]
    public void The_deadline_also_bounds_reading_output_that_a_background_child_keeps_open()
    {
        var grandchild = scratch.Combine("grandchild.pid");
        var command = new ToolCommand("sh", "-c", $"sleep 120 & echo $! > {grandchild}; echo started") { Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        var act = () => runner.Run(command);
        act.Should().Throw<ToolTimeoutException>().Where(e => e.ExitCode == -1 && e.Result.StandardOutput == "started\n");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(12), "a 2 s deadline must not wait for the grandchild's 120 s");
        AssertGone(ReadPid(grandchild), "the grandchild kept the output pipe open and must be killed, not left behind");
    }

    [Fact]
    public void Cancellation_sends_SIGINT_first_and_the_tool_stops_cleanly()
    {
        var (started, marker) = (scratch.Combine("started"), scratch.Combine("interrupted"));
        var tool = new ToolCommand("sh", "-c",
            $"trap 'echo interrupted > {marker}; kill $child; exit 130' INT; sleep 120 & child=$!; echo $child > {started}; wait $child")
            { InterruptGrace = TimeSpan.FromSeconds(60) };
        using var cancellation = new CancellationTokenSource();
        var run = Task.Run(() => runner.Run(tool, cancellation.Token));
        var child = AwaitPid(started);
        var clock = Stopwatch.StartNew();
        cancellation.Cancel();

        var act = () => run.GetAwaiter().GetResult();
        act.Should().Throw<OperationCanceledException>();
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30), "the tool exited on SIGINT, well before the 60 s grace ended in a kill");
        File.ReadAllText(marker).Should().Be("interrupted\n");
        AssertGone(child, "the tool's trap stopped its own child");
    }

    [Fact]
    public void A_tool_that_ignores_SIGINT_is_killed_with_its_children_after_the_grace_period()
    {
        var started = scratch.Combine("started");
        var tool = new ToolCommand("sh", "-c", $"trap '' INT; sleep 120 & echo \"$$ $!\" > {started}; wait")
            { InterruptGrace = TimeSpan.FromSeconds(2) };
        using var cancellation = new CancellationTokenSource();
        var run = Task.Run(() => runner.Run(tool, cancellation.Token));
        SpinWait.SpinUntil(() => File.Exists(started) && File.ReadAllText(started).EndsWith('\n'), TimeSpan.FromSeconds(10)).Should().BeTrue();
        var pids = File.ReadAllText(started).Split(' ').Select(int.Parse).ToArray();
        var clock = Stopwatch.StartNew();
        cancellation.Cancel();

        var act = () => run.GetAwaiter().GetResult();
        act.Should().Throw<OperationCanceledException>();
        clock.Elapsed.Should().BeGreaterThan(TimeSpan.FromSeconds(1.5), "the tool had its grace period before the kill");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(15));
        AssertGone(pids[0], "the tool ignored SIGINT and must be killed");
        AssertGone(pids[1], "its child goes with it");
    }

    [Fact]
    public void A_timeout_is_told_apart_from_cancellation()
    {
        var timedOut = () => runner.Run(new ToolCommand("sleep", "120") { Timeout = TimeSpan.FromMilliseconds(300) });
        timedOut.Should().Throw<ToolTimeoutException>().Which.Should().NotBeAssignableTo<OperationCanceledException>();
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var cancelled = () => runner.Run(new ToolCommand("sleep", "120") { Timeout = TimeSpan.FromMinutes(5) }, cancellation.Token);
        cancelled.Should().Throw<OperationCanceledException>();
    }

    [Fact]
    public void Pipes_one_tool_into_another_without_a_shell()
    {
        var pipeline = new ToolCommand("printf", "%s\n", "b", "c", "a") | new ToolCommand("sort", "-r") | new ToolCommand("tr", "a-z", "A-Z");
        pipeline.ToString().Should().Be("printf '%s\n' b c a | sort -r | tr a-z A-Z");
        var result = runner.RunChecked(pipeline);
        result.StandardOutput.Should().Be("C\nB\nA\n");
        result.Command.Tool.Should().Be("tr");
    }

    [Fact]
    public void A_pipeline_fails_with_the_tool_that_failed_first()
    {
        var upstreamFails = runner.Run(new ToolCommand("sh", "-c", "echo partial; echo broken >&2; exit 3") | new ToolCommand("cat"));
        upstreamFails.Command.Tool.Should().Be("sh");
        upstreamFails.ExitCode.Should().Be(3);
        upstreamFails.StandardError.Should().Be("broken\n");
        var act = () => upstreamFails.EnsureSuccess();
        act.Should().Throw<ToolFailedException>().Which.Message.Should().Be("'sh -c 'echo partial; echo broken >&2; exit 3'' in 'sh -c 'echo partial; echo broken >&2; exit 3' | cat' failed with exit code 3: broken");

        var truncated = runner.Run(new ToolCommand("sh", "-c", "echo cut >&2; exit 3") | new ToolCommand("sh", "-c", "cat >/dev/null; echo short >&2; exit 5"));
        truncated.ExitCode.Should().Be(3, "the downstream tool failed only because its input ended early");

        var full = runner.Run(new ToolCommand("sh", "-c", "sleep 1; echo more; exit 4") | new ToolCommand("sh", "-c", "echo full >&2; exit 5"));
        full.ExitCode.Should().Be(5, "the upstream tool failed (or was stopped) only because nobody read its output any more");
    }

    [Fact]
    public void Compresses_through_a_tar_to_zstd_pipe_that_tar_reads_back()
    {
        File.WriteAllText(scratch.Combine("data.txt"), string.Concat(Enumerable.Repeat("sparse storage ", 10_000)));
        var archive = scratch.Combine("data.tar.zst");
        runner.RunChecked(new ToolCommand("tar", "--create", "--file=-", $"--directory={scratch.Path}", "--", "data.txt") | new ToolCommand("zstd", "-q", "-o", archive));
        var listing = runner.RunChecked(new ToolCommand("zstd", "-d", "-c", archive) | new ToolCommand("tar", "--extract", "--to-stdout", "--file=-"));
        listing.StandardOutput.Should().Be(File.ReadAllText(scratch.Combine("data.txt")));
        new FileInfo(archive).Length.Should().BeLessThan(10_000);
    }

    [Fact]
    public void Streams_output_lines_as_progress_while_the_tool_runs()
    {
        var progress = new RecordedProgress();
        var seenWhileRunning = scratch.Combine("seen");
        // The tool waits until the runner has reported its first line: progress arrives while it runs, not at the end.
        var tool = new ToolCommand("sh", "-c",
            $"printf '    (0.00/100%%)\\r    (37.50/100%%)\\r'; i=0; while [ ! -e {seenWhileRunning} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; printf '    (100.00/100%%)\\r\\n'")
            { Progress = QemuImgProgress.For("Copying web01", new MarkOnFirstReport(progress, seenWhileRunning)) };
        var result = runner.RunChecked(tool);
        File.Exists(seenWhileRunning).Should().BeTrue();
        progress.Reports.Select(r => r.Done).Should().Equal(0, 3750, 10_000);
        progress.Reports.Should().AllSatisfy(r => r.Activity.Should().Be("Copying web01"));
        progress.Reports[1].PercentComplete.Should().Be(37);
        result.StandardOutput.Should().Contain("(100.00/100%)");
    }

    [Theory]
    [InlineData("    (12.50/100%)", 1250L)]
    [InlineData("(100.00/100%)", 10_000L)]
    [InlineData("qemu-img: error", null)]
    [InlineData("", null)]
    public void Reads_qemu_img_progress_lines(string line, long? done) =>
        (QemuImgProgress.Parse("a", line)?.Done).Should().Be(done);

    private static int AwaitPid(string file)
    {
        SpinWait.SpinUntil(() => File.Exists(file) && File.ReadAllText(file).EndsWith('\n'), TimeSpan.FromSeconds(10)).Should().BeTrue("the fake tool starts");
        return ReadPid(file);
    }

    private static int ReadPid(string file) => int.Parse(File.ReadAllText(file).Trim());

    private static void AssertGone(int pid, string because)
    {
        SpinWait.SpinUntil(() => !IsRunning(pid), TimeSpan.FromSeconds(5));
        var running = IsRunning(pid);
        if (running)
            Libc.kill(pid, 9); // clean up what the test started, then fail
        running.Should().BeFalse(because);
    }

    private static bool IsRunning(int pid) =>
        Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].StartsWith('Z');
}
