using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes network interface names (the loopback interface carries no AoE).</summary>
public sealed class NetworkInterfaceCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Safely(() => CompletionCandidates.NetworkInterfaces(), wordToComplete);
}
