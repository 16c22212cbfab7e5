namespace SparseStorage.Core.Aoe;

/// <summary>What Add-AtaoeDiskToGroup did (or, under -WhatIf, would do) to a volume group.</summary>
public sealed class AtaoeGroupUpdate
{
    public required string VolumeGroup { get; init; }
    /// <summary>The aoe driver's block devices that became physical volumes of the group.</summary>
    public IReadOnlyList<string> AddedDevices { get; init; } = [];
    public bool CreatedGroup { get; init; }
    public string? LogicalVolume { get; init; }
    public string? LogicalVolumePath { get; init; }
    /// <summary>The commands, as run.</summary>
    public IReadOnlyList<string> Commands { get; init; } = [];

    public override string ToString() => VolumeGroup;
}
