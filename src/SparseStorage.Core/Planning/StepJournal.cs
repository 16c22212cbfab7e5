namespace SparseStorage.Core.Planning;

/// <summary>
/// Hears each step of a plan as Apply starts it: the cmdlets write it to the verbose stream, and tests compare the
/// steps run with the steps planned. Called from the thread that does the work.
/// </summary>
public sealed class StepJournal(Action<string> onStep)
{
    public void Ran(string step) => onStep(step);
}
