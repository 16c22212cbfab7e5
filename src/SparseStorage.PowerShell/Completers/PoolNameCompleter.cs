using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using SparseStorage.Core;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes registered pool names.</summary>
public sealed class PoolNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Safely(() => CompletionCandidates.PoolNames(StorageContext.CreateDefault().Pools), wordToComplete);
}
