using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// Steps whose tool reads keys from <see cref="SecretFile"/>s. A step is shown, planned and journaled with the
/// placeholder path: the real file has a random name and exists only while the tool runs, so the displayed command is
/// the same in -WhatIf and in the run, and never holds more than a path.
/// </summary>
internal static class SecretSteps
{
    /// <summary>Runs <paramref name="command"/> with one secret file per key, written just before and destroyed right after.</summary>
    public static ToolResult ToolWithSecrets(this StepRunner steps, IReadOnlyList<VolumeKey> keys, Func<IReadOnlyList<SecretFile>, ToolCommand> command,
        Func<ToolCommand, CancellationToken, ToolResult> run)
    {
        var shown = command(keys.Select(_ => SecretFile.Placeholder()).ToList());
        return steps.Measure(shown.ToString(), () =>
        {
            var secrets = new List<SecretFile>(keys.Count);
            try
            {
                foreach (var key in keys)
                    secrets.Add(new SecretFile(key));
                return run(command(secrets), steps.Cancellation);
            }
            finally
            {
                secrets.ForEach(s => s.Dispose());
            }
        }, new ToolResult(shown, 0, "", "", TimeSpan.Zero));
    }
}
