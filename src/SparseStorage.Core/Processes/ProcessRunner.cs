using System.Diagnostics;
using System.Text;

namespace SparseStorage.Core.Processes;

/// <summary>
/// Starts tools with an argument list (never a shell), feeds stdin, collects stdout and stderr, and enforces
/// a timeout. Cancellation and timeout kill the whole process tree.
/// </summary>
public sealed class ProcessRunner(ToolLocator locator) : IProcessRunner
{
    public ProcessRunner() : this(ToolLocator.Default) { }

    public ToolResult Run(ToolCommand command, CancellationToken cancellationToken = default) =>
        RunAsync(command, cancellationToken).GetAwaiter().GetResult();

    public async Task<ToolResult> RunAsync(ToolCommand command, CancellationToken cancellationToken = default)
    {
        // A cancelled operation starts nothing more: a tool killed right after it starts may already have changed the disk.
        cancellationToken.ThrowIfCancellationRequested();
        using var process = new Process { StartInfo = StartInfoFor(command) };
        var clock = Stopwatch.StartNew();
        process.Start();
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(command.Timeout);
        var stdout = ReadStandardOutput(process, command, deadline);
        try
        {
            await FeedStandardInputAsync(process, command, deadline.Token);
            await process.WaitForExitAsync(deadline.Token);
            await stdout;
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            var killed = new ToolResult(command, -1, await Collected(stdout), await stderr, clock.Elapsed);
            cancellationToken.ThrowIfCancellationRequested();
            throw new ToolTimeoutException(killed);
        }
        catch
        {
            KillTree(process);
            throw;
        }

        return new ToolResult(command, process.ExitCode, await stdout, await stderr, clock.Elapsed);
    }

    private ProcessStartInfo StartInfoFor(ToolCommand command)
    {
        var info = new ProcessStartInfo(locator.Locate(command.Tool))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in command.Arguments)
            info.ArgumentList.Add(argument);
        // Tools' messages are parsed in a few places; keep them in one language.
        info.Environment["LC_ALL"] = "C";
        return info;
    }

    /// <summary>The output as text, or, with a sink, the sink's run; a failing sink cancels <paramref name="deadline"/> so the tool is killed, not waited for.</summary>
    private static Task<string> ReadStandardOutput(Process process, ToolCommand command, CancellationTokenSource deadline)
    {
        if (command.StandardOutputSink is not { } sink)
            return process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var token = deadline.Token;
        return Task.Factory.StartNew(() =>
        {
            try
            {
                sink(process.StandardOutput.BaseStream, token);
                return "";
            }
            catch
            {
                deadline.Cancel();
                KillTree(process); // it may be blocked writing output no one reads, and its input writer with it
                throw;
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>The output collected so far; a sink's own failure, the reason the tool was stopped, is thrown instead.</summary>
    private static async Task<string> Collected(Task<string> stdout)
    {
        try
        {
            return await stdout;
        }
        catch (OperationCanceledException)
        {
            return "";
        }
    }

    private static async Task FeedStandardInputAsync(Process process, ToolCommand command, CancellationToken cancellationToken)
    {
        try
        {
            if (command.StandardInput is { } bytes)
                await process.StandardInput.BaseStream.WriteAsync(bytes, cancellationToken);
            if (command.StandardInputSource is { } source)
                await Task.Factory.StartNew(() => source(process.StandardInput.BaseStream, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            process.StandardInput.Close();
        }
        catch (IOException) when (command.StandardInputSource is not null)
        {
            // A broken pipe is the tool's failure, told by its exit code; anything else is the source's own.
            if (!ExitedWithFailure(process))
                throw;
        }
        catch (IOException)
        {
            // The tool exited without reading its input; its exit code tells the story.
        }
    }

    private static bool ExitedWithFailure(Process process) => process.WaitForExit(TimeSpan.FromSeconds(5)) && process.ExitCode != 0;

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}
