namespace SparseStorage.Core.Backups;

/// <summary>A volume compressed into one file: a GNU sparse tar compressed with zstd (opens with tar and zstd alone).</summary>
public sealed class VolumeArchive
{
    public required string Path { get; init; }
    /// <summary>The archived volume's image file.</summary>
    public required string Source { get; init; }
    /// <summary>How the archive is made, e.g. "tar --sparse | zstd -3".</summary>
    public required string Codec { get; init; }
    /// <summary>The image's size (virtual for raw).</summary>
    public long SizeBytes { get; init; }
    /// <summary>The image's allocated bytes: what was read and compressed (holes are recorded, not stored).</summary>
    public long DataBytes { get; init; }
    /// <summary>The archive file's size.</summary>
    public long StoredBytes { get; init; }
    /// <summary>DataBytes / StoredBytes: how much smaller the data became.</summary>
    public double Ratio => StoredBytes == 0 ? 0 : Math.Round((double)DataBytes / StoredBytes, 2);
    public WriteConsistency Consistency { get; init; }

    public override string ToString() => Path;
}
