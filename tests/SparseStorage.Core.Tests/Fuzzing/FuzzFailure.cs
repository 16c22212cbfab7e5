namespace SparseStorage.Core.Tests.Fuzzing;

/// <summary>An input on which a reader threw something other than InvalidDataException, or did not finish in time.</summary>
public sealed record FuzzFailure(long Iteration, HeaderMutation Input, Exception? Error)
{
    public bool TimedOut => Error is null;

    public override string ToString() =>
        $"#{Iteration} {Input}: {(TimedOut ? "did not finish in time" : $"{Error!.GetType().Name}: {Error.Message}\n{Error.StackTrace}")}";
}
