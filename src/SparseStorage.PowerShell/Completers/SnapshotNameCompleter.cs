using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using SparseStorage.Core;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes snapshot names of the volume already given by -Volume (and -Pool) or -VolumePath.</summary>
public sealed class SnapshotNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Safely(() => CompletionCandidates.SnapshotNames(StorageContext.CreateDefault(),
            Completion.Bound(fakeBoundParameters, "VolumePath"), Completion.Bound(fakeBoundParameters, "Volume"), Completion.Bound(fakeBoundParameters, "Pool")), wordToComplete);
}
