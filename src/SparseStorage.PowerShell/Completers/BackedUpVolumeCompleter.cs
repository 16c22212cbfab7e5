using System.Collections;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes the names of volumes that have backup sets in the -Destination already given.</summary>
public sealed class BackedUpVolumeCompleter : CandidateCompleter
{
    protected override IEnumerable<string> Candidates(string typed, IDictionary boundParameters) =>
        Bound(boundParameters, "Destination") is { } destination
            ? CompletionCandidates.BackedUpVolumeNames(Path.GetFullPath(destination, CurrentDirectory()))
            : [];
}
