using System.Diagnostics;
using CliWrap;

namespace SparseStorage.Core.Processes;

/// <summary>
/// Starts tools through CliWrap with an argument list (never a shell), feeds stdin, collects stdout and stderr, and
/// connects pipelines tool to tool. Cancellation and the timeout send SIGINT first; a tool still running after
/// <see cref="ToolCommand.InterruptGrace"/> is killed with its process tree. The deadline also bounds reading the output:
/// a background child that keeps the pipes open is killed instead of being waited for.
/// </summary>
public sealed class ProcessRunner(ToolLocator locator) : IProcessRunner
{
    /// <summary>What a stopped tool's output may still take to arrive once every tool of the pipeline has exited.</summary>
    private static readonly TimeSpan DrainAfterExit = TimeSpan.FromSeconds(1);

    public ProcessRunner() : this(ToolLocator.Default) { }

    public ToolResult Run(ToolCommand command, CancellationToken cancellationToken = default) =>
        RunAsync(command, cancellationToken).GetAwaiter().GetResult();

    public async Task<ToolResult> RunAsync(ToolCommand command, CancellationToken cancellationToken = default)
    {
        // A cancelled operation starts nothing more: a tool killed right after it starts may already have changed the disk.
        cancellationToken.ThrowIfCancellationRequested();
        using var forceful = new CancellationTokenSource();
        var stages = command.Pipeline().Select(c => new ToolStage(c, locator.Locate(c.Tool), () => Cancel(forceful))).ToArray();
        using var deadline = new CancellationTokenSource(command.Timeout);
        using var graceful = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        using var escalation = graceful.Token.Register(() => _ = EscalateAsync(stages, command.InterruptGrace, forceful));
        var clock = Stopwatch.StartNew();
        try
        {
            await ExecuteAsync(stages, stages.Length - 1, null, forceful.Token, graceful.Token);
        }
        catch (Exception e) when (graceful.IsCancellationRequested && e is OperationCanceledException or TimeoutException)
        {
            PipeHolders.Kill(stages.SelectMany(s => s.Pipes).ToHashSet());
            cancellationToken.ThrowIfCancellationRequested();
            throw new ToolTimeoutException(stages[^1].Result(clock.Elapsed) with { ExitCode = -1 });
        }

        stages[0].ThrowInputFailure();
        // The tool that failed first tells why: the others failed because of it (tar at the end of a truncated zstd
        // stream, tar on the broken pipe of a zstd that found the disk full).
        var failed = stages.Where(s => s.Finished && !s.Result(TimeSpan.Zero).Succeeded).MinBy(s => s.ExitTime);
        return (failed ?? stages[^1]).Result(clock.Elapsed) with { Pipeline = stages.Length > 1 ? command : null };
    }

    /// <summary>
    /// After SIGINT (CliWrap sends it on the graceful token): the kill once the grace period is over, or as soon as every tool
    /// has exited, since then only output is left to read and whatever still holds the pipes is not worth waiting for.
    /// </summary>
    private static async Task EscalateAsync(ToolStage[] stages, TimeSpan grace, CancellationTokenSource forceful)
    {
        var exited = Task.WhenAll(stages.Select(s => s.Exited));
        if (await Task.WhenAny(exited, Task.Delay(grace)) == exited)
            await Task.Delay(DrainAfterExit);
        Cancel(forceful);
    }

    private static void Cancel(CancellationTokenSource forceful)
    {
        try
        {
            forceful.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run ended meanwhile.
        }
    }

    /// <summary>Runs a stage; its input is the output of the stage before it, run by CliWrap's piping as that input is read.</summary>
    private static Task ExecuteAsync(ToolStage[] stages, int index, PipeTarget? output, CancellationToken forceful, CancellationToken graceful)
    {
        var upstream = index == 0 ? null
            : PipeSource.Create((input, token) => ExecuteAsync(stages, index - 1, PipeTarget.ToStream(input), token, graceful));
        return stages[index].ExecuteAsync(upstream, output, forceful, graceful);
    }
}
