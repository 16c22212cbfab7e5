using System.Collections;
using SparseStorage.Core.Completion;

namespace SparseStorage.PowerShell.Completers;

/// <summary>Completes a backup set's directory, step by step: destination, volume folder, set.</summary>
public sealed class BackupSetCompleter : CandidateCompleter
{
    protected override IEnumerable<string> Candidates(string typed, IDictionary boundParameters) =>
        CompletionCandidates.BackupSetPaths(typed, CurrentDirectory());
}
