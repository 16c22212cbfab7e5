using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes network interface names from /sys/class/net (the loopback interface carries no AoE).</summary>
public sealed class NetworkInterfaceCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Safely(() => Directory.Exists("/sys/class/net")
            ? Directory.GetFileSystemEntries("/sys/class/net").Select(Path.GetFileName).OfType<string>().Where(n => n != "lo")
            : [], wordToComplete);
}
