namespace SparseStorage.Core.Volumes.Maintenance;

// Backed by long so that ConvertTo-Json writes the name, not a number (docs/json.md).
public enum FindingSeverity : long
{
    Information,
    Warning,
    Error,
}

/// <summary>One thing a check found: which check, how bad, and what it means.</summary>
public sealed record VolumeFinding(string Check, FindingSeverity Severity, string Message);

/// <summary>The outcome of Test-SparseVolume: healthy when no finding is an error.</summary>
public sealed class VolumeTestResult
{
    public required string Name { get; init; }
    public required string Path { get; init; }
    public VolumeFormat Format { get; init; }
    public FileSystemType FileSystem { get; init; }
    public bool IsHealthy => Findings.All(f => f.Severity != FindingSeverity.Error);
    public IReadOnlyList<VolumeFinding> Findings { get; init; } = [];
    /// <summary>The checks that ran, as commands a person could type again.</summary>
    public IReadOnlyList<string> Checks { get; init; } = [];
}
