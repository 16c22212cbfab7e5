using System.Diagnostics;

namespace SparseStorage.Core.Tests.Fuzzing;

/// <summary>What a fuzz run fed the readers and what came of it.</summary>
public sealed class FuzzReport
{
    private readonly Stopwatch clock = Stopwatch.StartNew();

    public long Iterations { get; private set; }
    public long Accepted { get; private set; }
    public long Refused { get; private set; }
    public TimeSpan Slowest { get; private set; }
    public List<FuzzFailure> Failures { get; } = [];
    public TimeSpan Elapsed => clock.Elapsed;

    internal void Count(int refusals, TimeSpan took)
    {
        Iterations++;
        if (refusals == 0) Accepted++;
        else Refused++;
        if (took > Slowest) Slowest = took;
    }

    internal void Stop() => clock.Stop();

    internal void Fail(FuzzFailure failure)
    {
        Iterations++;
        Failures.Add(failure);
    }

    public override string ToString() =>
        $"{Iterations:N0} inputs in {Elapsed.TotalSeconds:F1} s ({Iterations / Math.Max(Elapsed.TotalSeconds, 0.001):N0}/s): " +
        $"{Accepted:N0} accepted by every reader, {Refused:N0} refused with InvalidDataException, {Failures.Count} failures; " +
        $"slowest input {Slowest.TotalMilliseconds:F1} ms";
}
