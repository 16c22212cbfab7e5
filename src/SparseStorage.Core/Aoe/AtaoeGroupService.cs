using System.Text.RegularExpressions;
using SparseStorage.Core.Host;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Aoe;

/// <summary>
/// The supervisor of a multi-node pool: AoE targets, seen through the aoe driver as /dev/etherd/eS.L, become physical
/// volumes of one LVM volume group; the group grows by adding targets, and a logical volume and its filesystem grow
/// online into the new space. Needs the aoe driver and device-mapper; the plan reads LVM's state through the runner.
/// </summary>
public sealed partial class AtaoeGroupService(StorageContext context, bool aoeDriver, bool deviceMapper)
    : IPlannedOperation<AtaoeGroupRequest, AtaoeGroupPlan, AtaoeGroupUpdate>
{
    public AtaoeGroupService(StorageContext context) : this(context, StorageHostProbe.HasAoeDriver(), Encryption.DmCryptMapping.IsAvailable) { }

    /// <summary>How long Apply waits after aoe-discover for the aoe driver to make the targets' devices.</summary>
    public TimeSpan DeviceWait { get; init; } = TimeSpan.FromSeconds(10);

    [GeneratedRegex("^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$")]
    private static partial Regex LvmName();

    /// <summary>
    /// Checks the names, reads which devices, group and volume exist, and lists the commands. A host without the aoe
    /// driver or device-mapper still gets its plan, with a warning that the run will refuse.
    /// </summary>
    public AtaoeGroupPlan Plan(AtaoeGroupRequest request) => Plan(request, CancellationToken.None);

    public AtaoeGroupPlan Plan(AtaoeGroupRequest request, CancellationToken cancellationToken)
    {
        context.RequireRoot("Adding AoE disks to a volume group");
        RequireLvmName(request.VolumeGroup, "VolumeGroup");
        if (request.LogicalVolume is { } lv)
            RequireLvmName(lv, "LogicalVolume");
        if (request.FileSystem is not (FileSystemType.None or FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4 or FileSystemType.Xfs or FileSystemType.Btrfs))
            throw new InvalidStorageArgumentException("UnsupportedFileSystem", $"A logical volume over AoE disks gets ext2/3/4, xfs, btrfs or no filesystem, not {request.FileSystem}.", request.FileSystem);
        if (request.Grow && request.LogicalVolume is null)
            throw new InvalidStorageArgumentException("GrowNeedsLogicalVolume", "-Grow grows a logical volume: name it with -LogicalVolume.");

        var devices = request.Targets.Select(t => t.DevicePath).Distinct().ToList();
        var owners = Table("pvs", "pv_name,vg_name", cancellationToken).ToDictionary(r => r[0], r => r.ElementAtOrDefault(1) ?? "");
        foreach (var device in devices.Where(d => owners.TryGetValue(d, out var vg) && vg.Length > 0 && vg != request.VolumeGroup))
            throw new VolumeInUseException($"{device} already belongs to volume group '{owners[device]}'; it is not moved to '{request.VolumeGroup}'.", device);
        var newDevices = devices.Where(d => !owners.TryGetValue(d, out var vg) || vg.Length == 0).ToList();
        var groupExists = Table("vgs", "vg_name", cancellationToken).Any(r => r[0] == request.VolumeGroup);

        var commands = new List<ToolCommand>();
        if (devices.Any(d => !File.Exists(d)))
            commands.Add(new ToolCommand("aoe-discover"));
        commands.AddRange(newDevices.Where(d => !owners.ContainsKey(d)).Select(d => new ToolCommand("pvcreate", d)));
        if (newDevices.Count > 0)
            commands.Add(new ToolCommand(groupExists ? "vgextend" : "vgcreate", [request.VolumeGroup, .. newDevices]));
        if (request.LogicalVolume is not null)
            commands.AddRange(LogicalVolumeSteps(request, groupExists, cancellationToken));
        var missing = MissingCapabilities();
        return new AtaoeGroupPlan(request, newDevices, !groupExists && newDevices.Count > 0, commands)
        {
            MissingCapabilities = missing,
            Warnings = missing.Count == 0 ? [] : [$"{IncapableHost(missing).Message} The run will refuse before changing anything."],
        };
    }

    /// <summary>
    /// Refuses on a host without the aoe driver or device-mapper; plans again from LVM's state now and refuses if the
    /// commands differ; then runs the plan's commands in order. The first failure stops it (LVM's own metadata stays consistent).
    /// </summary>
    public AtaoeGroupUpdate Apply(AtaoeGroupPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (MissingCapabilities() is { Count: > 0 } missing)
            throw IncapableHost(missing);
        var now = Plan(plan.Request, cancellationToken);
        if (!now.Steps.SequenceEqual(plan.Steps))
            throw new StorageOperationException("ChangedSincePlanned",
                $"The volume group {plan.Request.VolumeGroup} changed since it was planned; nothing was done. Planned: {plan.Describe()}. Now: {now.Describe()}.", plan.Request.VolumeGroup);
        var steps = StepRunner.ForApply(context, progress, "Add AoE disks", cancellationToken);
        foreach (var command in plan.Commands)
        {
            steps.Tool(command);
            if (command.Tool == "aoe-discover")
                AwaitDevices(plan.Request.Targets.Select(t => t.DevicePath), DeviceWait, cancellationToken);
        }
        return UpdateOf(plan);
    }

    public static AtaoeGroupUpdate UpdateOf(AtaoeGroupPlan plan) => new()
    {
        VolumeGroup = plan.Request.VolumeGroup, AddedDevices = plan.NewDevices, CreatedGroup = plan.CreatesGroup,
        LogicalVolume = plan.Request.LogicalVolume, LogicalVolumePath = plan.Request.LogicalVolume is null ? null : plan.LogicalVolumePath,
        Commands = plan.Commands.Select(c => c.ToString()).ToList(),
    };

    private List<string> MissingCapabilities() =>
        new[] { (aoeDriver, "the aoe driver (modprobe aoe; it makes /dev/etherd/eS.L of discovered targets)"),
                (deviceMapper, "device-mapper (modprobe dm_mod; LVM's logical volumes are device-mapper devices)") }
            .Where(f => !f.Item1).Select(f => f.Item2).ToList();

    private HostNotCapableException IncapableHost(IReadOnlyList<string> missing) =>
        new(aoeDriver ? "DeviceMapperMissing" : "AoeDriverMissing",
            $"Aggregating AoE disks with LVM needs {string.Join(" and ", missing)}, which this host lacks. Find-AtaoeDisk works without them.");

    private IEnumerable<ToolCommand> LogicalVolumeSteps(AtaoeGroupRequest request, bool groupExists, CancellationToken cancellationToken)
    {
        var path = $"/dev/{request.VolumeGroup}/{request.LogicalVolume}";
        var exists = groupExists && Table("lvs", "lv_name,vg_name", cancellationToken).Any(r => r[0] == request.LogicalVolume && r.ElementAtOrDefault(1) == request.VolumeGroup);
        if (!exists)
            return [new ToolCommand("lvcreate", "--yes", "--name", request.LogicalVolume!, "--extents", "100%FREE", request.VolumeGroup),
                    .. request.FileSystem == FileSystemType.None ? [] : new[] { Volumes.FileSystemRules.MakeCommand(request.FileSystem, path, null) }];
        if (!request.Grow)
            return [];
        return [new ToolCommand("lvextend", "--extents", "+100%FREE", path), GrowFileSystem(path, cancellationToken)];
    }

    /// <summary>The filesystem's own online grow: resize2fs takes the device; xfs and btrfs grow through their mount point.</summary>
    private ToolCommand GrowFileSystem(string path, CancellationToken cancellationToken)
    {
        var type = context.Runner.RunChecked(new ToolCommand("blkid", "--output", "value", "--match-tag", "TYPE", path), cancellationToken).StandardOutput.Trim();
        var mountPoint = context.Runner.Run(new ToolCommand("findmnt", "--noheadings", "--first-only", "--output", "TARGET", "--source", path), cancellationToken)
            .StandardOutput.Trim();
        return type switch
        {
            "ext2" or "ext3" or "ext4" => new ToolCommand("resize2fs", path),
            "xfs" or "btrfs" when mountPoint.Length == 0 => throw new StorageOperationException("FileSystemNotMounted",
                $"{path} holds {type}, which grows only while mounted; mount it and run again.", path),
            "xfs" => new ToolCommand("xfs_growfs", mountPoint),
            "btrfs" => new ToolCommand("btrfs", "filesystem", "resize", "max", mountPoint),
            _ => throw new StorageOperationException("FileSystemNotGrowable",
                $"{path} holds '{(type.Length > 0 ? type : "no filesystem")}'; only ext2/3/4, xfs and btrfs are grown.", path),
        };
    }

    /// <summary>An LVM report as rows of fields (--noheadings, '|' between fields).</summary>
    private List<string[]> Table(string tool, string fields, CancellationToken cancellationToken) =>
        context.Runner.RunChecked(new ToolCommand(tool, "--noheadings", "--separator", "|", "--options", fields), cancellationToken)
            .StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split('|').Select(f => f.Trim()).ToArray()).ToList();

    private static void RequireLvmName(string name, string parameter)
    {
        if (!LvmName().IsMatch(name) || name is "." or "..")
            throw new InvalidStorageArgumentException("InvalidLvmName",
                $"-{parameter} '{name}' is not an LVM name (letters, digits, '+', '_', '.', '-'; not starting with '-').", name);
    }

    private static void AwaitDevices(IEnumerable<string> devices, TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + wait;
        var missing = devices.ToList();
        while (missing.RemoveAll(File.Exists) >= 0 && missing.Count > 0 && DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Thread.Sleep(100);
        }
        if (missing.Count > 0)
            throw new StorageObjectNotFoundException("AoeDeviceMissing", $"The aoe driver made no device for {string.Join(", ", missing)} after aoe-discover.", missing[0]);
    }
}
