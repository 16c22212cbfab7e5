using System.Collections.Concurrent;
using System.Management.Automation;
using SparseStorage.Core;
using SparseStorage.Core.Planning;
using SparseStorage.PowerShell.Errors;

namespace SparseStorage.PowerShell;

/// <summary>
/// The base of every cmdlet: cancellation on Ctrl+C, Core exceptions as ErrorRecords, provider-aware paths, and
/// progress from Core's IProgress written on the pipeline thread, and plans shown by -WhatIf and applied step by step
/// (each step in the verbose stream as it starts).
/// </summary>
public abstract class SparseStorageCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource cancellation = new();
    private readonly ConcurrentQueue<string> stepsStarted = new();
    private StorageContext? context;

    protected CancellationToken Cancellation => cancellation.Token;
    protected StorageContext Context => context ??= StorageContext.CreateDefault(new StepJournal(stepsStarted.Enqueue));

    protected override void StopProcessing() => cancellation.Cancel();

    public void Dispose()
    {
        cancellation.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Plans the request, asks with <see cref="ShouldApply"/>, and applies the plan with progress; null when not confirmed.</summary>
    protected TResult? PlanAndApply<TRequest, TPlan, TResult>(IPlannedOperation<TRequest, TPlan, TResult> operation, TRequest request)
        where TPlan : OperationPlan where TResult : class
    {
        var plan = operation.Plan(request);
        return ShouldApply(plan) ? RunWithProgress((progress, token) => operation.Apply(plan, progress, token)) : null;
    }

    /// <summary>
    /// The one confirmation of a plan: its warnings, then ShouldProcess with the plan's steps (what -WhatIf prints),
    /// then for a High-impact plan of a Medium-impact cmdlet the plan's question. -Force skips the prompts, unless
    /// -Confirm is given explicitly; -WhatIf always only reports.
    /// </summary>
    protected bool ShouldApply(OperationPlan plan)
    {
        foreach (var warning in plan.Warnings)
            WriteWarning(warning);
        foreach (var step in plan.Steps)
            WriteVerbose($"Plan: {step}");
        var bound = MyInvocation.BoundParameters;
        var whatIf = bound.TryGetValue("WhatIf", out var w) && ((SwitchParameter)w).IsPresent;
        var forced = bound.TryGetValue("Force", out var f) && ((SwitchParameter)f).IsPresent && !bound.ContainsKey("Confirm");
        if (forced && !whatIf)
            return true;
        if (!ShouldProcess(plan.Target, plan.Describe()))
            return false;
        var cmdletImpact = MyInvocation.MyCommand is CmdletInfo { ImplementingType: { } type }
            && Attribute.GetCustomAttribute(type, typeof(CmdletAttribute)) is CmdletAttribute { ConfirmImpact: var impact } ? impact : ConfirmImpact.Medium;
        return plan.Impact != PlanImpact.High || cmdletImpact == ConfirmImpact.High
            || ConfirmHighImpact(forced, plan.ConfirmationQuery ?? $"{plan.Describe()}?", plan.Action);
    }

    /// <summary>Runs one unit of work; a failure becomes a non-terminating error unless no later item could succeed.</summary>
    protected void Invoke(Action work, object? target = null)
    {
        try
        {
            work();
        }
        catch (Exception e) when (e is SparseStorageException or IOException or UnauthorizedAccessException or OperationCanceledException
                                       or InvalidDataException or PSArgumentException or ItemNotFoundException or System.Management.Automation.DriveNotFoundException
                                       or PSInvalidOperationException)
        {
            var record = ErrorMapping.ToRecord(e, target);
            if (ErrorMapping.IsTerminating(e))
                ThrowTerminatingError(record);
            WriteError(record);
        }
    }

    /// <summary>
    /// A second confirmation for the high-impact form of a medium-impact command (a shrink): asked unless -Force,
    /// -Confirm:$false or $ConfirmPreference = 'None', so unattended runbooks are never prompted.
    /// </summary>
    private bool ConfirmHighImpact(bool force, string query, string caption)
    {
        var confirmOff = MyInvocation.BoundParameters.TryGetValue("Confirm", out var confirm) && !((SwitchParameter)confirm).IsPresent;
        // Assigned in a script or function scope, $ConfirmPreference holds a string, not the enum.
        var preference = LanguagePrimitives.TryConvertTo<ConfirmImpact>(SessionState.PSVariable.GetValue("ConfirmPreference"), out var impact) ? impact : ConfirmImpact.High;
        return force || confirmOff || preference == ConfirmImpact.None || ShouldContinue(query, caption);
    }

    /// <summary>
    /// A path as PowerShell means it: relative to the current location, with provider prefixes removed. A missing
    /// drive is PowerShell's own DriveNotFound; a path of another provider (Env:, Variable:) is refused rather than
    /// taken as a file name relative to the current directory. A Ceph volume's "rbd:POOL/IMAGE" names no drive and is
    /// kept as it is.
    /// </summary>
    protected string ProviderPath(string path)
    {
        if (Core.Ceph.CephPoolSettings.IsRbdPath(path))
            return path;
        var resolved = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out var provider, out _);
        return provider.Name == "FileSystem" ? resolved
            : throw new PSArgumentException($"'{path}' is a path of the {provider.Name} provider; give a file system path.", "Path");
    }

    /// <summary>The backup integrity key in the file a -IntegrityKeyFile names, or null; a file others can read is used with a warning.</summary>
    protected Core.Backups.BackupIntegrityKey? LoadIntegrityKey(string? keyFile)
    {
        if (keyFile is null)
            return null;
        var key = Core.Backups.BackupIntegrityKey.Load(ProviderPath(keyFile));
        if (key.Exposure is { } exposure)
            WriteWarning(exposure);
        return key;
    }

    /// <summary>Runs Core work on a worker thread while this thread writes its progress records (Write* must stay on the pipeline thread).</summary>
    protected T RunWithProgress<T>(Func<IProgress<OperationProgress>, CancellationToken, T> work)
    {
        using var queue = new BlockingCollection<OperationProgress>();
        var task = Task.Run(() =>
        {
            try
            {
                return work(new QueueProgress(queue), Cancellation);
            }
            finally
            {
                queue.CompleteAdding();
            }
        });
        try
        {
            OperationProgress? last = null;
            foreach (var update in Updates(queue))
            {
                WriteStepsStarted();
                if (update is null)
                    continue;
                last = update;
                WriteProgress(new ProgressRecord(1, update.Activity, update.Status) { PercentComplete = update.PercentComplete });
            }
            WriteStepsStarted();
            if (last is not null)
                WriteProgress(new ProgressRecord(1, last.Activity, "Done") { RecordType = ProgressRecordType.Completed });
        }
        catch
        {
            // Once stopping, WriteProgress throws PipelineStoppedException while the work still runs: wait for it to
            // cancel and clean up, so that Ctrl+C returns to the prompt only when nothing half-made is left.
            cancellation.Cancel();
            ((IAsyncResult)task).AsyncWaitHandle.WaitOne();
            throw;
        }
        return task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Core's reports; when work that reports nothing (a key derivation, mkfs) passes a second, one record without a
    /// percentage, so that nothing that takes a while runs silently.
    /// </summary>
    /// A null update only wakes the pump (every 250 ms) to write the steps started meanwhile.
    private IEnumerable<OperationProgress?> Updates(BlockingCollection<OperationProgress> queue)
    {
        var reported = false;
        var waited = TimeSpan.Zero;
        while (!queue.IsCompleted)
        {
            if (queue.TryTake(out var update, TimeSpan.FromMilliseconds(250)))
            {
                reported = true;
                yield return update;
                continue;
            }
            waited += TimeSpan.FromMilliseconds(250);
            if (!reported && waited >= TimeSpan.FromSeconds(1) && !queue.IsCompleted)
            {
                reported = true;
                yield return new OperationProgress(MyInvocation.MyCommand.Name, "Working", 0, 0);
            }
            else
                yield return null;
        }
    }

    /// <summary>The plan steps Apply has started since the last call, as verbose records (on the pipeline thread).</summary>
    protected void WriteStepsStarted()
    {
        while (stepsStarted.TryDequeue(out var step))
            WriteVerbose($"Step: {step}");
    }

    private sealed class QueueProgress(BlockingCollection<OperationProgress> queue) : IProgress<OperationProgress>
    {
        private DateTime lastReport = DateTime.MinValue;

        public void Report(OperationProgress value)
        {
            // Write-Progress is costly; a few updates a second are enough for a person watching.
            if (DateTime.UtcNow - lastReport < TimeSpan.FromMilliseconds(200) && value.Done < value.Total)
                return;
            lastReport = DateTime.UtcNow;
            queue.Add(value);
        }
    }
}
