using System.Management.Automation;
using System.Management.Automation.Runspaces;
using SparseStorage.Core;

namespace SparseStorage.PowerShell.Completers;

internal static class Completion
{
    /// <summary>Candidates that start with the typed word; a completer never throws at the prompt.</summary>
    public static IEnumerable<CompletionResult> Safely(Func<IEnumerable<string>> candidates, string wordToComplete)
    {
        try
        {
            var prefix = wordToComplete.Trim('\'', '"');
            return candidates()
                .Where(c => c.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.OrdinalIgnoreCase)
                .Select(c => new CompletionResult(Quoted(c), c, CompletionResultType.ParameterValue, c))
                .ToList();
        }
        catch (Exception e) when (e is SparseStorageException or IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>The directory relative paths are typed from: the PowerShell location where one can be read.</summary>
    public static string CurrentDirectory()
    {
        try
        {
            return Runspace.DefaultRunspace?.SessionStateProxy.Path.CurrentFileSystemLocation.ProviderPath ?? Environment.CurrentDirectory;
        }
        catch (Exception e) when (e is PSInvalidOperationException or InvalidRunspaceStateException or NotSupportedException)
        {
            return Environment.CurrentDirectory;
        }
    }

    public static string? Bound(System.Collections.IDictionary fakeBoundParameters, string name) => fakeBoundParameters[name] as string;

    private static string Quoted(string candidate) =>
        candidate.IndexOfAny([' ', '\'', '$', '`', '(', ')', '{', '}', ';', ',', '&', '@', '#']) < 0 ? candidate : $"'{candidate.Replace("'", "''")}'";
}
