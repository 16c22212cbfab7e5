using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes a backup set's directory, step by step: destination, volume folder, set.</summary>
public sealed class BackupSetCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Safely(() => CompletionCandidates.BackupSetPaths(wordToComplete.Trim('\'', '"'), Completion.CurrentDirectory()), wordToComplete);
}
