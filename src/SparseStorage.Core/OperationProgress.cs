namespace SparseStorage.Core;

/// <summary>Progress of a long operation, raised through IProgress and shown by the cmdlets with Write-Progress.</summary>
public sealed record OperationProgress(string Activity, string Status, long Done, long Total)
{
    public int PercentComplete => Total <= 0 ? -1 : (int)Math.Clamp(Done * 100 / Total, 0, 100);
}
