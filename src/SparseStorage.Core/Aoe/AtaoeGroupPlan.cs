using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Aoe;

/// <summary>
/// The commands that carry out an Add-AtaoeDiskToGroup request, in order: -WhatIf shows them, Apply runs them.
/// <see cref="MissingCapabilities"/> names what this host lacks (the aoe driver, device-mapper): the plan can still be
/// read, but Apply refuses before running anything.
/// </summary>
public sealed record AtaoeGroupPlan(AtaoeGroupRequest Request, IReadOnlyList<string> NewDevices, bool CreatesGroup, IReadOnlyList<ToolCommand> Commands)
    : OperationPlan
{
    public IReadOnlyList<string> MissingCapabilities { get; init; } = [];

    public string LogicalVolumePath => $"/dev/{Request.VolumeGroup}/{Request.LogicalVolume}";

    public override string Target => $"volume group {Request.VolumeGroup}";

    public override string Action => "Add AoE disks";

    public override IReadOnlyList<string> Steps => Commands.Select(c => c.ToString()).ToList();
}
