using System.Collections;
using SparseStorage.Core;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes registered pool names.</summary>
public sealed class PoolNameCompleter : CandidateCompleter
{
    protected override IEnumerable<string> Candidates(string typed, IDictionary boundParameters) =>
        CompletionCandidates.PoolNames(StorageContext.CreateDefault().Pools);
}
