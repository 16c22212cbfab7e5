using System.Management.Automation;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>What one run of a script gave: its output, every stream, and the error that ended it, if one did.</summary>
public sealed record Invocation(
    IReadOnlyList<PSObject> Output,
    IReadOnlyList<ErrorRecord> Errors,
    IReadOnlyList<WarningRecord> Warnings,
    IReadOnlyList<VerboseRecord> Verbose,
    IReadOnlyList<ProgressRecord> Progress,
    Exception? Terminating)
{
    /// <summary>The single error the script reported, from the error stream or as the exception that stopped it.</summary>
    public ErrorRecord Error =>
        Errors.Count > 0 ? Errors.Should().ContainSingle().Subject
        : (Terminating as IContainsErrorRecord)?.ErrorRecord ?? throw new InvalidOperationException("The script reported no error.");

    public IReadOnlyList<T> Objects<T>() => Output.Select(o => o.BaseObject).Should().AllBeAssignableTo<T>().Subject.Cast<T>().ToList();

    public static Invocation Of(System.Management.Automation.PowerShell shell, Func<IEnumerable<PSObject>> invoke)
    {
        var output = new List<PSObject>();
        Exception? terminating = null;
        try
        {
            output.AddRange(invoke());
        }
        catch (Exception e) when (e is RuntimeException or PipelineStoppedException)
        {
            terminating = e;
        }
        var streams = shell.Streams;
        return new Invocation(output, streams.Error.ToList(), streams.Warning.ToList(), streams.Verbose.ToList(), streams.Progress.ToList(), terminating);
    }

    /// <summary>Fails with the errors' messages when the script reported any.</summary>
    public Invocation Succeeded()
    {
        var problems = Errors.Select(e => $"{e.FullyQualifiedErrorId}: {e}").Concat(Terminating is null ? [] : [Terminating.ToString()]);
        problems.Should().BeEmpty();
        return this;
    }
}
