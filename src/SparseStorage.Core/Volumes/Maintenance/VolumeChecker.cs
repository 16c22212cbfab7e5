using System.Text.Json.Nodes;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Volumes.Maintenance;

/// <summary>
/// Checks a volume without changing it: the image (qemu-img check for qcow2, sizes and backing file for all) and
/// the filesystem with its read-only checker (e2fsck -n, xfs_repair -n, btrfs check --readonly). A mounted
/// filesystem is not checked: a checker reading a live filesystem reports errors that are not there.
/// </summary>
public sealed class VolumeChecker(StorageContext context)
{
    public VolumeTestResult Test(SparseVolume volume, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (Ceph.CephPoolSettings.IsRbdPath(volume.Path))
            return new Ceph.CephVolumeChecker(context).Test(volume, progress, cancellationToken);
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(volume.Path);
        var attachment = context.ReadAttachments().Of(current.Path);
        var steps = new StepRunner(context.Runner, dryRun: false, progress, $"Checking {current.Name}", cancellationToken);
        var findings = new List<VolumeFinding>();
        CheckSizes(current, findings);
        CheckWrites(current, attachment, findings);
        if (current.Format == VolumeFormat.Qcow2)
            CheckQcow2(current, attachment.IsAttached, steps, findings);
        if (attachment.IsMounted)
            findings.Add(new VolumeFinding("filesystem", FindingSeverity.Information, $"Not checked: the volume is {attachment.Describe()}; dismount it to check the filesystem."));
        else
            CheckFileSystem(current, attachment, steps, findings);
        return new VolumeTestResult
        {
            Name = current.Name, Path = current.Path, Format = current.Format, FileSystem = current.FileSystem,
            Findings = findings, Checks = steps.Steps,
        };
    }

    public static ToolCommand Qcow2CheckCommand(string path, bool inUse) =>
        new ToolCommand("qemu-img", ["check", "--output=json", .. inUse ? new[] { "-U" } : [], path])
            { SuccessExitCodes = [0, 2, 3], Timeout = TimeSpan.FromHours(2) };

    private static void CheckSizes(SparseVolume volume, List<VolumeFinding> findings)
    {
        CheckImageSize(volume, findings);
        if (volume.BackingFile is not null && !File.Exists(BackingChains.ResolveBacking(volume)))
            findings.Add(new VolumeFinding("image", FindingSeverity.Error, $"The backing file {BackingChains.ResolveBacking(volume)} is missing: the linked clone cannot be read."));
    }

    /// <summary>Writes already lost: failed writes of the volume's loop device, errors its ext4 filesystem recorded, a full pool.</summary>
    private void CheckWrites(SparseVolume volume, Host.VolumeAttachment attachment, List<VolumeFinding> findings)
    {
        var pool = context.Pools.PoolOf(volume.Path);
        var free = pool is null ? (long?)null : Native.Libc.Space(pool.Path).AvailableBytes;
        var poolSpace = pool is null ? "" : $" Pool '{pool.Name}' has {ByteSize.Format(free!.Value)} free in {pool.Path}.";
        if (attachment.LoopDevice is { } loop)
        {
            var failed = Host.LoopWriteErrors.SinceAttach(loop, Host.KernelLog.Read());
            if (failed.Count > 0)
                findings.Add(new VolumeFinding("loop device", FindingSeverity.Error,
                    $"{loop} failed {failed.Count} write(s) since it was attached, so data written to {volume.Name} was lost; the kernel said: " +
                    $"'{failed[0]}'{(failed.Count > 1 ? $" … '{failed[^1]}'" : "")}.{poolSpace} Copy off what the volume still holds and check its filesystem once it is dismounted."));
            if (Ext4ErrorCount(loop) is > 0 and var errors)
                findings.Add(new VolumeFinding("filesystem", FindingSeverity.Error,
                    $"The mounted ext4 filesystem on {loop} has recorded {errors} error(s) (/sys/fs/ext4/{Path.GetFileName(loop)}/errors_count); dismount it and run Test-SparseVolume to check it."));
        }
        if (volume.AllocatedBytes < volume.SizeBytes && pool is not null && free < FullPoolBytes)
            findings.Add(new VolumeFinding("pool", FindingSeverity.Warning,
                $"Pool '{pool.Name}' is full ({ByteSize.Format(free.Value)} free in {pool.Path}): writes to the {ByteSize.Format(volume.SizeBytes - volume.AllocatedBytes)} of {volume.Name} not yet allocated will fail."));
    }

    /// <summary>An error when the filesystem spans more than the image offers: the image was cut short.</summary>
    internal static void CheckImageSize(SparseVolume volume, List<VolumeFinding> findings)
    {
        if (volume.FileSystemSizeBytes > volume.SizeBytes)
            findings.Add(new VolumeFinding("image", FindingSeverity.Error,
                $"The {volume.FileSystem} filesystem spans {ByteSize.Format(volume.FileSystemSizeBytes)} but the image offers only {ByteSize.Format(volume.SizeBytes)}: the image was cut short; grow it back with Resize-SparseVolume -Size {volume.FileSystemSizeBytes}."));
    }

    /// <summary>An error finding when a read-only filesystem check's exit code says the filesystem has errors.</summary>
    internal static void AddFileSystemFinding(SparseVolume volume, ToolCommand command, int[] errorCodes, ToolResult result, List<VolumeFinding> findings)
    {
        if (errorCodes.Contains(result.ExitCode))
            findings.Add(new VolumeFinding(command.Tool, FindingSeverity.Error,
                $"The {volume.FileSystem} filesystem has errors (exit code {result.ExitCode}): {Summary(result)}"));
    }

    private const long FullPoolBytes = 1L << 20;

    private static long? Ext4ErrorCount(string loop)
    {
        var path = $"/sys/fs/ext4/{Path.GetFileName(loop)}/errors_count";
        return File.Exists(path) && long.TryParse(File.ReadAllText(path).Trim(), System.Globalization.CultureInfo.InvariantCulture, out var count) ? count : null;
    }

    private static void CheckQcow2(SparseVolume volume, bool inUse, StepRunner steps, List<VolumeFinding> findings)
    {
        var result = steps.Tool(Qcow2CheckCommand(volume.Path, inUse));
        var report = JsonNode.Parse(result.StandardOutput) as JsonObject ?? [];
        var corruptions = Count(report, "corruptions");
        var leaks = Count(report, "leaks");
        if (corruptions > 0)
            findings.Add(new VolumeFinding("qemu-img check", FindingSeverity.Error, $"{corruptions} corrupted qcow2 metadata entries; data may be lost. Copy the data off, or repair a copy with qemu-img check -r all."));
        if (leaks > 0)
            findings.Add(new VolumeFinding("qemu-img check", FindingSeverity.Warning, $"{leaks} leaked clusters: space is wasted but no data is at risk (qemu-img check -r leaks, or Optimize-SparseVolume, gives it back)."));
        if (inUse)
            findings.Add(new VolumeFinding("qemu-img check", FindingSeverity.Information, "The image was in use while it was checked; counts may be off by what was being written."));
    }

    private void CheckFileSystem(SparseVolume volume, Host.VolumeAttachment attachment, StepRunner steps, List<VolumeFinding> findings)
    {
        if (volume.Encryption != "None")
        {
            findings.Add(new VolumeFinding("filesystem", FindingSeverity.Information, $"Not checked: the volume is encrypted ({volume.Encryption}); unlock it first."));
            return;
        }
        using var access = new TemporaryAccess(context, volume, attachment, steps, readOnly: true);
        if (FileSystemRules.ReadOnlyCheck(volume.FileSystem, "") is null)
        {
            findings.Add(new VolumeFinding("filesystem", FindingSeverity.Information, $"No filesystem check for {volume.FileSystem}."));
            return;
        }
        var (command, errorCodes) = FileSystemRules.ReadOnlyCheck(volume.FileSystem, access.RawView())!.Value;
        AddFileSystemFinding(volume, command, errorCodes, steps.Tool(command), findings);
        access.Close();
    }

    private static long Count(JsonObject report, string key) => report[key]?.GetValue<long>() ?? 0;

    private static string Summary(ToolResult result)
    {
        var lines = (result.StandardOutput + "\n" + result.StandardError).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join(" / ", lines.TakeLast(6));
    }
}
