using System.Collections;
using SparseStorage.Core;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes snapshot names of the volume already given by -Volume (and -Pool) or -VolumePath.</summary>
public sealed class SnapshotNameCompleter : CandidateCompleter
{
    protected override IEnumerable<string> Candidates(string typed, IDictionary boundParameters) =>
        CompletionCandidates.SnapshotNames(StorageContext.CreateDefault(),
            Bound(boundParameters, "VolumePath"), Bound(boundParameters, "Volume"), Bound(boundParameters, "Pool"));
}
