using System.Collections;
using SparseStorage.Core;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes volume names, within -Pool when it is already given.</summary>
public sealed class VolumeNameCompleter : CandidateCompleter
{
    protected override IEnumerable<string> Candidates(string typed, IDictionary boundParameters) =>
        CompletionCandidates.VolumeNames(StorageContext.CreateDefault().Pools, Bound(boundParameters, "Pool"));
}
