using System.Collections;
using SparseStorage.Core;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes the loop devices that volumes of the registered pools are attached to.</summary>
public sealed class LoopDeviceCompleter : CandidateCompleter
{
    protected override IEnumerable<string> Candidates(string typed, IDictionary boundParameters) =>
        CompletionCandidates.LoopDevices(StorageContext.CreateDefault());
}
