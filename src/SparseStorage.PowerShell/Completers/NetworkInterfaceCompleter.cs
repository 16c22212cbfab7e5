using System.Collections;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes network interface names (the loopback interface carries no AoE).</summary>
public sealed class NetworkInterfaceCompleter : CandidateCompleter
{
    protected override IEnumerable<string> Candidates(string typed, IDictionary boundParameters) =>
        CompletionCandidates.NetworkInterfaces();
}
