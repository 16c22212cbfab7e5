using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes the names of volumes that have backup sets in the -Destination already given.</summary>
public sealed class BackedUpVolumeCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Safely(() => Completion.Bound(fakeBoundParameters, "Destination") is { } destination
            ? CompletionCandidates.BackedUpVolumeNames(Path.GetFullPath(destination, Completion.CurrentDirectory()))
            : [], wordToComplete);
}
