using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// A validated creation: where the volume will be and every step that will run, shown by -WhatIf. The image is
/// built under a hidden temporary name and renamed only when complete, so a failure leaves nothing behind.
/// </summary>
public sealed record CreateVolumePlan(
    string TargetPath,
    string PoolName,
    string TemporaryPath,
    NewVolumeRequest Request,
    ByteSize Size,
    IReadOnlyList<ToolCommand> Commands) : OperationPlan
{
    public override string Target => TargetPath;
    public override string Action => ReplacesExisting ? "Replace volume" : "Create volume";

    /// <summary>The steps as the creator's dry run recorded them.</summary>

    /// <summary>Whether a file of the target's name exists and will be replaced (-Replace).</summary>
    public bool ReplacesExisting { get; init; }

    /// <summary>The raw file a filesystem is made in before a qcow2 conversion; null when none is needed.</summary>
    public string? RawStagingPath { get; init; }

    /// <summary>Whether the zeroed extents mkfs leaves allocated (a journal, a log) are given back after it runs.</summary>
    public bool PunchesUnwrittenExtents { get; init; }

    /// <summary>Whether the unwritten extents are punched after this command (after mkfs, not after qemu-img).</summary>
    public bool PunchesAfter(ToolCommand command) => PunchesUnwrittenExtents && command.Tool != "qemu-img";

    /// <summary>The raw file mkfs writes into.</summary>
    public string RawPath => RawStagingPath ?? TemporaryPath;

    /// <summary>Whether a raw file is made first (a raw volume, or the staging file of a qcow2 volume with a filesystem).</summary>
    internal bool CreatesRawFile => RawStagingPath is not null || Request.Format == VolumeFormat.Raw;

    /// <summary>Whether the raw file is preallocated (a raw volume with Full preallocation).</summary>
    internal bool PreallocatesRawFile => Request.Preallocation == Preallocation.Full && RawStagingPath is null;
}
