using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text;
using CliWrap;

namespace SparseStorage.Core.Processes;

/// <summary>One process of a pipeline as <see cref="ProcessRunner"/> runs it through CliWrap: its output collected, its pipes named.</summary>
/// <param name="stop">Kills the run at once: a failing output sink calls it, since the tool may be blocked writing output no one reads.</param>
internal sealed class ToolStage(ToolCommand command, string path, Action stop)
{
    private readonly StringBuilder output = new();
    private readonly StringBuilder error = new();
    private readonly List<string> pipes = [];
    private readonly TaskCompletionSource exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? inputFailure;
    private int? exitCode;

    public ToolCommand Command => command;

    /// <summary>Completes when the tool has exited; its output may still be draining (a background child may hold the pipes).</summary>
    public Task Exited => exited.Task;

    /// <summary>The names of the tool's output pipes, for <see cref="PipeHolders"/>.</summary>
    public IReadOnlyList<string> Pipes
    {
        get
        {
            lock (pipes)
                return pipes.ToArray();
        }
    }

    /// <summary>Runs the tool to its exit with its output fully read; the input is given when it comes from an upstream tool.</summary>
    public async Task ExecuteAsync(PipeSource? upstream, PipeTarget? downstream, CancellationToken forceful, CancellationToken graceful)
    {
        var cli = Cli.Wrap(path)
            .WithEnvironmentVariables(variables => variables.Set("LC_ALL", "C")) // tools' messages are parsed in a few places
            .WithValidation(CommandResultValidation.None)
            .WithStandardInputPipe(upstream ?? OwnInput(graceful))
            .WithStandardOutputPipe(Named(downstream ?? OwnOutput()))
            .WithStandardErrorPipe(Named(Collected(error)));
        var result = await cli.ExecuteAsync(ArgumentList, Watch, forceful, graceful);
        exitCode = result.ExitCode;
        ExitTime = result.ExitTime;
    }

    /// <summary>
    /// The tool ran to its exit. An upstream tool is stopped (by CliWrap) when the tool it feeds has exited without reading
    /// all of its output, as tar does after the end-of-archive blocks; the shell would see SIGPIPE.
    /// </summary>
    public bool Finished => exitCode is not null;

    public DateTimeOffset ExitTime { get; private set; }

    public ToolResult Result(TimeSpan duration) => new(command, exitCode ?? -1, output.ToString(), error.ToString(), duration);

    /// <summary>
    /// Throws what the input source threw, unless it was the broken pipe of a tool that failed: then the tool's exit code
    /// tells the story (CliWrap itself ignores a broken input pipe).
    /// </summary>
    public void ThrowInputFailure()
    {
        if (inputFailure is null || (inputFailure is IOException && !Result(TimeSpan.Zero).Succeeded))
            return;
        ExceptionDispatchInfo.Throw(inputFailure);
    }

    /// <summary>Each argument goes to the tool as it is (execve's argv), never through a joined string.</summary>
    private void ArgumentList(ProcessStartInfo info)
    {
        info.Arguments = "";
        foreach (var argument in command.Arguments)
            info.ArgumentList.Add(argument);
    }

    private void Watch(Process process)
    {
        process.Exited += (_, _) => exited.TrySetResult();
        if (process.HasExited)
            exited.TrySetResult();
    }

    private PipeSource OwnInput(CancellationToken graceful)
    {
        if (command.StandardInput is { } bytes)
            return PipeSource.FromBytes(bytes);
        if (command.StandardInputSource is { } source)
            return PipeSource.Create((input, token) => FeedAsync(source, input, token, graceful));
        return PipeSource.Null;
    }

    private async Task FeedAsync(Action<Stream, CancellationToken> source, Stream input, CancellationToken token, CancellationToken graceful)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(token, graceful);
        try
        {
            // The source is synchronous and may run for hours: a thread of its own, not one of the pool's.
            await Task.Factory.StartNew(() => source(input, stop.Token), stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The tool has exited (or is being killed): CliWrap tells that case from a cancellation by its own token.
            throw new OperationCanceledException(token);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            inputFailure = e;
            throw;
        }
    }

    private PipeTarget OwnOutput() =>
        command.StandardOutputSink is { } sink
            ? PipeTarget.Create((origin, token) => DrainAsync(sink, origin, token))
            : Collected(output);

    private async Task DrainAsync(Action<Stream, CancellationToken> sink, Stream origin, CancellationToken token)
    {
        try
        {
            await Task.Factory.StartNew(() => sink(origin, token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
        {
            stop();
            throw;
        }
    }

    private PipeTarget Collected(StringBuilder text) =>
        command.Progress is { } progress
            ? PipeTarget.Merge(PipeTarget.ToStringBuilder(text, Encoding.UTF8), PipeTarget.ToDelegate(progress.Report, Encoding.UTF8))
            : PipeTarget.ToStringBuilder(text, Encoding.UTF8);

    private PipeTarget Named(PipeTarget target) =>
        PipeTarget.Create(async (origin, token) =>
        {
            if (PipeHolders.NameOf(origin) is { } name)
                lock (pipes)
                    pipes.Add(name);
            await target.CopyFromAsync(origin, token);
        });
}
