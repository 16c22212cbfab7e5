namespace SparseStorage.Core.Volumes.Resize;

/// <summary>What a resize did: the volume's old and new virtual size and the steps that ran.</summary>
public sealed class VolumeResizeResult
{
    public required string Name { get; init; }
    public required string Path { get; init; }
    public long OldSizeBytes { get; init; }
    public long NewSizeBytes { get; init; }
    public FileSystemType FileSystem { get; init; }
    public long FileSystemSizeBytes { get; init; }
    public IReadOnlyList<string> Steps { get; init; } = [];
    /// <summary>The volume as it is after the resize.</summary>
    public required SparseVolume Volume { get; init; }

    public override string ToString() => Path;
}
