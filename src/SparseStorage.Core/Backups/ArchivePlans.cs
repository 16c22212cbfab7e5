using SparseStorage.Core.Planning;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Backups;

/// <summary>What Compress-SparseVolume was asked for: the volume, and the archive file or a directory to put it in.</summary>
public sealed record CompressVolumeRequest(SparseVolume Volume, string Destination)
{
    /// <summary>zstd level, 1 (fastest) to 19 (smallest).</summary>
    public int Level { get; init; } = 3;
    /// <summary>Replace an existing archive (once the new one is complete).</summary>
    public bool Replace { get; init; }
    /// <summary>Archive a volume that is attached writable and whose writes cannot be paused.</summary>
    public bool AllowInUseSource { get; init; }
}

/// <summary>A checked archive: the source as read when planning, the archive path, how the source is kept still, and the steps.</summary>
public sealed record CompressVolumePlan(SparseVolume Source, string ArchivePath, CompressVolumeRequest Request) : OperationPlan
{
    public override string Target => Source.Path;
    public override string Action => $"Archive {ByteSize.Format(Source.AllocatedBytes)} of data into {ArchivePath}";

    /// <summary>Where the archive is written before it is renamed into place.</summary>
    public required string TemporaryPath { get; init; }

    public WriteConsistency Consistency { get; init; }

    internal string? FrozenMountPoint { get; init; }

}

/// <summary>What Expand-SparseVolume was asked for: the archive, and the volume file or pool directory to expand it to.</summary>
public sealed record ExpandVolumeRequest(string ArchivePath, string Destination)
{
    /// <summary>Replace an existing volume (never one in use, a base image or one with snapshots).</summary>
    public bool Replace { get; init; }
}

/// <summary>A checked expansion: the archive, the volume file it becomes, and the steps.</summary>
public sealed record ExpandVolumePlan(string ArchivePath, string TargetPath, ExpandVolumeRequest Request) : OperationPlan
{
    public override string Target => TargetPath;
    public override string Action => $"Expand {ArchivePath}";

    /// <summary>Where the volume is written before it is checked and renamed into place.</summary>
    public required string TemporaryPath { get; init; }

}
