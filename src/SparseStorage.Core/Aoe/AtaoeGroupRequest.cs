namespace SparseStorage.Core.Aoe;

/// <summary>Add-AtaoeDiskToGroup's request: targets to make physical volumes of a volume group, and what to do with a logical volume.</summary>
public sealed record AtaoeGroupRequest
{
    public required IReadOnlyList<AtaoeTarget> Targets { get; init; }
    public required string VolumeGroup { get; init; }
    /// <summary>A logical volume over the whole group: created (with <see cref="FileSystem"/>) when missing, grown with -Grow.</summary>
    public string? LogicalVolume { get; init; }
    /// <summary>Extend an existing logical volume over the group's free space and grow its filesystem online.</summary>
    public bool Grow { get; init; }
    public FileSystemType FileSystem { get; init; } = FileSystemType.Ext4;
}
