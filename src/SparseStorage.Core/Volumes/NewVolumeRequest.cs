namespace SparseStorage.Core.Volumes;

/// <summary>What New-SparseVolume was asked for. Either <see cref="Name"/> (with an optional pool) or <see cref="Path"/>.</summary>
public sealed record NewVolumeRequest
{
    public string? Name { get; init; }
    public string? Pool { get; init; }
    public string? Path { get; init; }
    public required ByteSize Size { get; init; }
    public VolumeFormat Format { get; init; } = VolumeFormat.Raw;
    public Preallocation Preallocation { get; init; } = Preallocation.Sparse;
    public FileSystemType FileSystem { get; init; } = FileSystemType.None;
    public string? Label { get; init; }
    /// <summary>Let the new volume take the place of an existing file of the same name (never one in use).</summary>
    public bool Replace { get; init; }
}
