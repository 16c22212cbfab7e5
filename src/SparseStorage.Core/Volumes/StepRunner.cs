using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Runs the steps of an operation, or in a dry run only records them. The same code path produces -WhatIf's list
/// of real command lines and the real work, so the two cannot drift apart. A real run tells the context's
/// <see cref="StepJournal"/> each step as it starts.
/// </summary>
public sealed class StepRunner(IProcessRunner runner, bool dryRun, IProgress<OperationProgress>? progress, string activity, CancellationToken cancellationToken, StepJournal? journal = null)
{
    /// <summary>A dry run that records the steps of a plan and changes nothing.</summary>
    public static StepRunner ForPlan(StorageContext context) => new(context.Runner, dryRun: true, null, "", CancellationToken.None);

    /// <summary>A real run that reports its steps as progress and to the context's journal.</summary>
    public static StepRunner ForApply(StorageContext context, IProgress<OperationProgress>? progress, string activity, CancellationToken cancellationToken) =>
        new(context.Runner, dryRun: false, progress, activity, cancellationToken, context.Journal);

    private readonly List<string> steps = [];

    public bool DryRun { get; } = dryRun;
    public IReadOnlyList<string> Steps => steps;
    public CancellationToken Cancellation { get; } = cancellationToken;

    /// <summary>Runs a tool and throws on failure; in a dry run returns an empty success.</summary>
    public ToolResult Tool(ToolCommand command)
    {
        Record(command.ToString());
        Cancellation.ThrowIfCancellationRequested();
        return DryRun ? new ToolResult(command, 0, "", "", TimeSpan.Zero) : runner.RunChecked(command, Cancellation);
    }

    /// <summary>Where a qemu-img step run with -p reports its percentage, under this operation's activity; null when nobody listens.</summary>
    public ToolOutputProgress? QemuImgProgress() => progress is null ? null : Processes.QemuImgProgress.For(activity, progress);

    /// <summary>Does an in-process step (a file length change, a QMP call) described as a person would read it.</summary>
    public void Do(string description, Action action)
    {
        Record(description);
        Cancellation.ThrowIfCancellationRequested();
        if (!DryRun)
            action();
    }

    /// <summary>Computes a value during the run; a dry run gets <paramref name="dryRunValue"/> instead.</summary>
    public T Measure<T>(string description, Func<T> measure, T dryRunValue)
    {
        Record(description);
        Cancellation.ThrowIfCancellationRequested();
        return DryRun ? dryRunValue : measure();
    }

    /// <summary>
    /// Takes down what an earlier step set up (unmount, detach, stop a daemon). It runs after a cancellation too, which
    /// is when it matters most, so it neither checks the token nor passes it to the tool.
    /// </summary>
    public void Undo(string description, Action action)
    {
        steps.Add(description);
        if (DryRun)
            return;
        journal?.Ran(description);
        action();
    }

    public void UndoTool(ToolCommand command) => Undo(command.ToString(), () => runner.RunChecked(command, CancellationToken.None));

    private void Record(string step)
    {
        Cancellation.ThrowIfCancellationRequested();
        steps.Add(step);
        if (!DryRun)
            journal?.Ran(step);
        progress?.Report(new OperationProgress(activity, step, steps.Count, 0));
    }
}
