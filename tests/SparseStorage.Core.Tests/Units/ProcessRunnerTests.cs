using System.Diagnostics;
using System.Text;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Tests.Units;

/// <summary>The runner against small real programs (sh, cat, sleep) standing in for the storage tools.</summary>
public class ProcessRunnerTests
{
    private readonly ProcessRunner runner = new();

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

    private static bool IsRunning(int pid) =>
        Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].StartsWith('Z');
}
