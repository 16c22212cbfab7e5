using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using SparseStorage.Core;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Volumes;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes volume names, within -Pool when it is already given. Reads file names only: no header is opened.</summary>
public sealed class VolumeNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Safely(() =>
        {
            var pools = StorageContext.CreateDefault().Pools.Definitions();
            var pool = fakeBoundParameters["Pool"] as string;
            return pools.Where(p => pool is null || p.Name.Equals(pool, StringComparison.OrdinalIgnoreCase))
                .SelectMany(p => PoolService.VolumeFiles(p.Path))
                .Select(VolumeInspector.NameOf)
                .Distinct();
        }, wordToComplete);
}

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
                .Select(c => new CompletionResult(c, c, CompletionResultType.ParameterValue, c))
                .ToList();
        }
        catch (Exception e) when (e is SparseStorageException or IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
