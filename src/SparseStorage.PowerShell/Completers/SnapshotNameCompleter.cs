using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using SparseStorage.Core;
using SparseStorage.Core.Snapshots;
using SparseStorage.Core.Volumes;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes snapshot names of the volume already given by -Volume (and -Pool) or -VolumePath.</summary>
public sealed class SnapshotNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Safely(() =>
        {
            var context = StorageContext.CreateDefault();
            var catalog = new VolumeCatalog(context);
            var volume = fakeBoundParameters["VolumePath"] is string path ? catalog.Get(path)
                : fakeBoundParameters["Volume"] is string name ? catalog.Single(name, fakeBoundParameters["Pool"] as string)
                : null;
            return volume is null ? [] : new SnapshotService(context).List(volume).Select(s => s.Name);
        }, wordToComplete);
}
