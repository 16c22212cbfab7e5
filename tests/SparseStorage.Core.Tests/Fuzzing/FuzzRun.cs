using System.Diagnostics;
using SparseStorage.Core.Formats;

namespace SparseStorage.Core.Tests.Fuzzing;

/// <summary>
/// Feeds inputs to <see cref="ReaderHarness"/> one at a time, each on a worker with a deadline, until the inputs or the
/// time budget run out, or too many failures were seen. After a timeout it stops: the stuck worker cannot be killed and
/// still reads the scratch file.
/// </summary>
public sealed class FuzzRun(string scratchDirectory, TimeSpan perInputTimeout, int maxFailures = 20)
{
    public FuzzReport Run(IEnumerable<HeaderMutation> inputs, TimeSpan budget)
    {
        var report = new FuzzReport();
        using var files = new MutationFile(scratchDirectory);
        foreach (var input in inputs)
        {
            if (report.Elapsed >= budget || report.Failures.Count >= maxFailures)
                break;
            if (!Feed(files, input, report))
                break;
        }
        report.Stop();
        return report;
    }

    /// <summary>False when the input hung a reader.</summary>
    private bool Feed(MutationFile files, HeaderMutation input, FuzzReport report)
    {
        var path = files.Apply(input);
        var head = input.ApplyHead(FileSystemSignature.ProbeLength);
        var started = Stopwatch.StartNew();
        var worker = Task.Run(() => ReaderHarness.Run(path, head));
        try
        {
            if (!worker.Wait(perInputTimeout))
            {
                report.Fail(new FuzzFailure(report.Iterations, input, null));
                return false;
            }
            report.Count(worker.Result, started.Elapsed);
        }
        catch (AggregateException e)
        {
            report.Fail(new FuzzFailure(report.Iterations, input, e.InnerException ?? e));
        }
        files.Undo(input);
        return true;
    }
}
