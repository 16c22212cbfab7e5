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
    IReadOnlyList<ToolCommand> Commands)
{
    /// <summary>The raw file a filesystem is made in before a qcow2 conversion; null when none is needed.</summary>
    public string? RawStagingPath { get; init; }

    /// <summary>What the operator should read before the volume is made (a pool that could not hold what it promises).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Whether the zeroed extents mkfs leaves allocated (a journal, a log) are given back after it runs.</summary>
    public bool PunchesUnwrittenExtents { get; init; }

    /// <summary>Whether the unwritten extents are punched after this command (after mkfs, not after qemu-img).</summary>
    public bool PunchesAfter(ToolCommand command) => PunchesUnwrittenExtents && command.Tool != "qemu-img";

    /// <summary>The raw file mkfs writes into.</summary>
    public string RawPath => RawStagingPath ?? TemporaryPath;

    public IReadOnlyList<string> Steps
    {
        get
        {
            var steps = new List<string>();
            if (RawStagingPath is not null || Request.Format == VolumeFormat.Raw)
            {
                var kind = Request.Preallocation == Preallocation.Full && Request.Format == VolumeFormat.Raw ? "preallocated" : "sparse";
                steps.Add($"create {kind} raw file {RawStagingPath ?? TemporaryPath} of {Size}");
            }
            foreach (var command in Commands)
            {
                steps.Add(command.ToString());
                if (PunchesAfter(command))
                    steps.Add($"punch the unwritten (zeroed) extents of {RawPath}");
            }
            steps.Add($"rename {TemporaryPath} to {TargetPath}");
            return steps;
        }
    }
}
