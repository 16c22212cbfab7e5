using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using SparseStorage.Core;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes volume names, within -Pool when it is already given.</summary>
public sealed class VolumeNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Safely(() => CompletionCandidates.VolumeNames(StorageContext.CreateDefault().Pools, Completion.Bound(fakeBoundParameters, "Pool")), wordToComplete);
}
