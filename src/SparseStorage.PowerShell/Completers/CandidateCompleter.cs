using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using SparseStorage.Core;

namespace SparseStorage.PowerShell.Completers;

/// <summary>
/// A completer that offers the candidates Core lists, those that start with the typed word, quoted where needed.
/// It never throws at the prompt: a candidate list that cannot be read offers nothing.
/// </summary>
public abstract class CandidateCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var typed = wordToComplete.Trim('\'', '"');
        try
        {
            return Candidates(typed, fakeBoundParameters)
                .Where(c => c.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.OrdinalIgnoreCase)
                .Select(c => new CompletionResult(Quoted(c), c, CompletionResultType.ParameterValue, c))
                .ToList();
        }
        catch (Exception e) when (e is SparseStorageException or IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Every candidate for <paramref name="typed"/> (the word without quotes), given the parameters already on the line.</summary>
    protected abstract IEnumerable<string> Candidates(string typed, IDictionary boundParameters);

    /// <summary>The directory relative paths are typed from: the PowerShell location where one can be read.</summary>
    protected static string CurrentDirectory()
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

    protected static string? Bound(IDictionary boundParameters, string name) => boundParameters[name] as string;

    private static string Quoted(string candidate) =>
        candidate.IndexOfAny([' ', '\'', '$', '`', '(', ')', '{', '}', ';', ',', '&', '@', '#']) < 0 ? candidate : $"'{candidate.Replace("'", "''")}'";
}
