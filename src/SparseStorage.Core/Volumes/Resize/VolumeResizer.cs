using System.Globalization;
using System.Text.RegularExpressions;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Volumes.Resize;

/// <summary>
/// Grows and shrinks a volume's image and filesystem together, in the order that cannot lose data:
/// grow = image, then device capacity, then filesystem; shrink = measure, refuse below used space plus a margin,
/// shrink and check the filesystem, and only then cut the image.
/// </summary>
public sealed partial class VolumeResizer(StorageContext context)
{
    /// <summary>Target sizes are rounded up to whole MiB, a multiple of every filesystem block size.</summary>
    public const long Alignment = 1 << 20;
    private const long MinimumMargin = 64L << 20;

    /// <summary>The free space a shrink leaves above the filesystem's minimum: 10 %, at least 64 MiB.</summary>
    public static long Margin(long minimum) => Math.Max(MinimumMargin, minimum / 10);

    /// <summary>The steps a resize would run (real command lines), found by a dry run that changes nothing.</summary>
    public IReadOnlyList<string> Plan(SparseVolume volume, ResizeRequest request)
    {
        var steps = new StepRunner(context.Runner, dryRun: true, null, "", CancellationToken.None);
        Run(volume, request, steps);
        return steps.Steps;
    }

    /// <summary>
    /// The warnings a grow deserves before it runs (the pool could not hold what it would promise); throws
    /// <see cref="OvercommitLimitExceededException"/> when the grow would pass the pool's MaxOvercommit.
    /// </summary>
    public IReadOnlyList<string> Warnings(SparseVolume volume, ResizeRequest request)
    {
        if (request.ToMinimumSize || context.Pools.PoolOf(volume.Path) is not { } pool)
            return [];
        var target = TargetOf(volume, request);
        return Pools.ProvisioningGuard.Check(context.Pools.Describe(pool), target - volume.SizeBytes,
            $"Growing {volume.Name} from {ByteSize.Format(volume.SizeBytes)} to {ByteSize.Format(target)}");
    }

    public VolumeResizeResult Resize(SparseVolume volume, ResizeRequest request, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var steps = new StepRunner(context.Runner, dryRun: false, progress, $"Resizing {volume.Name}", cancellationToken);
        var before = new VolumeCatalog(context).Get(volume.Path);
        new BackingChains(context).RequireNoDependants(before, "resized");
        Run(before, request, steps);
        var after = new VolumeCatalog(context).Get(volume.Path);
        return new VolumeResizeResult
        {
            Name = after.Name, Path = after.Path, OldSizeBytes = before.SizeBytes, NewSizeBytes = after.SizeBytes,
            FileSystem = after.FileSystem, FileSystemSizeBytes = LiveFileSystemSize(after), Steps = steps.Steps, Volume = after,
        };
    }

    /// <summary>Whether the request makes the volume smaller; a shrink asks for confirmation at High impact.</summary>
    public static bool IsShrink(SparseVolume volume, ResizeRequest request) =>
        request.ToMinimumSize || TargetOf(volume, request) < volume.SizeBytes;

    private void Run(SparseVolume volume, ResizeRequest request, StepRunner steps)
    {
        var attachment = context.ReadAttachments().Of(volume.Path);
        ResizeRules.RequireResizable(volume, attachment);
        request.Validate();
        if (request.ToMinimumSize || TargetOf(volume, request) < volume.SizeBytes)
        {
            ResizeRules.RequireShrinkable(volume, attachment);
            Shrink(volume, attachment, request, steps);
        }
        else if (TargetOf(volume, request) > volume.SizeBytes || ResizeRules.FileSystemLags(volume))
        {
            Warnings(volume, request); // refuses a grow past the pool's MaxOvercommit, now under the volume's lock
            Grow(volume, attachment, TargetOf(volume, request), steps);
        }
    }

    /// <summary>The new size for -Size or -Delta, rounded up to whole MiB.</summary>
    public static long TargetOf(SparseVolume volume, ResizeRequest request)
    {
        if (request.ToMinimumSize)
            return volume.SizeBytes;
        var target = request.Size?.Bytes ?? ByteSize.Add(volume.SizeBytes, request.Delta ?? 0, $"{volume.Name}'s size ({ByteSize.Format(volume.SizeBytes)}) plus -Delta");
        if (target <= 0)
            throw new InvalidStorageArgumentException("InvalidSize",
                $"Resizing {volume.Name} ({ByteSize.Format(volume.SizeBytes)}) to {ByteSize.Format(target)} would leave no volume; the new size must be greater than zero.", volume);
        // A size equal to the current one is kept exactly (a no-op), even if it is not MiB-aligned.
        return target == volume.SizeBytes ? target : new ByteSize(target).RoundUpTo(Alignment).Bytes;
    }

    private void Grow(SparseVolume volume, VolumeAttachment attachment, long target, StepRunner steps)
    {
        if (target > volume.SizeBytes)
            ResizeImage(volume, attachment, target, steps);
        using var access = new TemporaryAccess(context, volume, attachment, steps);
        switch (volume.FileSystem)
        {
            case FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4 when attachment.IsMounted:
                GrowExtOnline(volume, attachment, target, steps);
                break;
            case FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4:
                CheckExt(access.RawView(), steps);
                steps.Tool(new ToolCommand("resize2fs", access.RawView(), Kibibytes(target)) { Timeout = TimeSpan.FromHours(2) });
                break;
            case FileSystemType.Xfs:
                steps.Tool(new ToolCommand("xfs_growfs", "-d", access.MountPoint()));
                break;
            case FileSystemType.Btrfs:
                steps.Tool(new ToolCommand("btrfs", "filesystem", "resize", "max", access.MountPoint()));
                break;
            case FileSystemType.Swap:
                RecreateSwap(volume, access.RawView(), steps);
                break;
        }
        access.Close();
    }

    private void Shrink(SparseVolume volume, VolumeAttachment attachment, ResizeRequest request, StepRunner steps)
    {
        long target;
        using (var access = new TemporaryAccess(context, volume, attachment, steps))
        {
            target = volume.FileSystem switch
            {
                FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4 => ShrinkExt(volume, request, access.RawView(), steps),
                FileSystemType.Btrfs => ShrinkBtrfs(volume, request, access.MountPoint(), steps),
                _ => ResizeRules.TargetWithoutFileSystem(volume, request),
            };
            access.Close();
        }
        if (target >= volume.SizeBytes)
            return;
        ResizeImage(volume, attachment, target, steps);
        if (volume.FileSystem == FileSystemType.Swap)
        {
            using var access = new TemporaryAccess(context, volume, attachment, steps);
            RecreateSwap(volume, access.RawView(), steps);
            access.Close();
        }
    }

    private long ShrinkExt(SparseVolume volume, ResizeRequest request, string view, StepRunner steps)
    {
        CheckExt(view, steps);
        var minimum = steps.Measure($"resize2fs -P {view}", () => ExtMinimum(view), 0);
        var target = ChooseShrinkTarget(volume, request, minimum, steps.DryRun);
        if (target >= volume.SizeBytes)
            return target;
        steps.Tool(new ToolCommand("resize2fs", view, Kibibytes(target)) { Timeout = TimeSpan.FromHours(2) });
        steps.Tool(new ToolCommand("e2fsck", "-f", "-n", view) { Timeout = TimeSpan.FromHours(2) });
        return target;
    }

    private long ShrinkBtrfs(SparseVolume volume, ResizeRequest request, string mountPoint, StepRunner steps)
    {
        var minimum = steps.Measure($"btrfs inspect-internal min-dev-size {mountPoint}", () => BtrfsMinimum(mountPoint), 0);
        var target = ChooseShrinkTarget(volume, request, minimum, steps.DryRun);
        if (target < volume.SizeBytes)
            steps.Tool(new ToolCommand("btrfs", "filesystem", "resize", ToolCommand.Number(target), mountPoint) { Timeout = TimeSpan.FromHours(2) });
        return target;
    }

    /// <summary>-ToMinimumSize: minimum plus margin; an explicit size: refused below minimum plus margin.</summary>
    private static long ChooseShrinkTarget(SparseVolume volume, ResizeRequest request, long minimum, bool dryRun)
    {
        var floor = new ByteSize(minimum + Margin(minimum)).RoundUpTo(Alignment).Bytes;
        if (request.ToMinimumSize)
            return dryRun ? volume.SizeBytes - Alignment : Math.Min(floor, volume.SizeBytes);
        var target = TargetOf(volume, request);
        if (!dryRun && target < floor)
            throw new ShrinkBelowUsedException(
                $"{volume.Name} cannot shrink to {ByteSize.Format(target)}: its {volume.FileSystem} filesystem needs at least {ByteSize.Format(minimum)} " +
                $"plus a margin of {ByteSize.Format(Margin(minimum))}, so the smallest size is {ByteSize.Format(floor)}. The volume's size was not changed.", volume);
        return target;
    }

    private void GrowExtOnline(SparseVolume volume, VolumeAttachment attachment, long target, StepRunner steps)
    {
        try
        {
            steps.Tool(new ToolCommand("resize2fs", attachment.LoopDevice!));
        }
        catch (ToolFailedException e) when (e is not ToolTimeoutException)
        {
            var reason = e.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? $"exit code {e.ExitCode}";
            throw new ResizeNotSupportedException("OnlineResizeRefused",
                $"The image of {volume.Name} now has {ByteSize.Format(target)}, but growing its mounted {volume.FileSystem} filesystem online " +
                $"failed ({reason}); this kernel may not allow it. The filesystem keeps its old size and the data is intact; dismount the volume " +
                $"(mounted at {string.Join(", ", attachment.MountPoints)}) and run Resize-SparseVolume again to finish.", volume);
        }
    }

    private void ResizeImage(SparseVolume volume, VolumeAttachment attachment, long target, StepRunner steps)
    {
        var exporter = context.FuseExporter();
        if (volume.Format == VolumeFormat.Qcow2 && attachment.FuseExport is { } export)
            steps.Do($"block_resize disk0 {target} (QMP, qemu-storage-daemon pid {export.ProcessId})", () => exporter.Resize(export, target));
        else if (volume.Format == VolumeFormat.Qcow2)
            steps.Tool(new ToolCommand("qemu-img", ["resize", "-q", "-f", "qcow2", .. target < volume.SizeBytes ? new[] { "--shrink" } : [], volume.Path, ToolCommand.Number(target)]));
        else if (target > volume.SizeBytes && volume.AllocatedBytes >= volume.SizeBytes)
            steps.Do($"fallocate -o {volume.SizeBytes} -l {target - volume.SizeBytes} {volume.Path}", () => ExtendPreallocated(volume.Path, volume.SizeBytes, target));
        else
            steps.Do($"truncate -s {target} {volume.Path}", () => SetLength(volume.Path, target));
        if (attachment.LoopDevice is not null)
            steps.Tool(new ToolCommand("losetup", "--set-capacity", attachment.LoopDevice));
    }

    private void CheckExt(string view, StepRunner steps) =>
        steps.Tool(new ToolCommand("e2fsck", "-f", "-y", view) { SuccessExitCodes = [0, 1], Timeout = TimeSpan.FromHours(2) });

    private void RecreateSwap(SparseVolume volume, string view, StepRunner steps)
    {
        var uuid = steps.Measure($"swaplabel {view}", () => SwapUuid(view), "<uuid>");
        steps.Tool(new ToolCommand("mkswap", ["-U", uuid, .. volume.Label is null ? Array.Empty<string>() : ["-L", volume.Label], view]));
    }

    /// <summary>
    /// A mounted filesystem's size as the filesystem sees it now. The image's superblock lags: xfs updates it in
    /// place only when its log is checkpointed, and a qcow2 image's metadata may still sit in qemu's cache.
    /// </summary>
    private long LiveFileSystemSize(SparseVolume volume)
    {
        if (!volume.IsMounted || volume.LoopDevice is null || volume.MountPoint is null)
            return volume.FileSystemSizeBytes;
        if (volume.FileSystem == FileSystemType.Xfs)
        {
            var info = context.Runner.RunChecked(new ToolCommand("xfs_info", volume.MountPoint)).StandardOutput;
            var data = XfsDataPattern().Match(info);
            return long.Parse(data.Groups[1].Value, CultureInfo.InvariantCulture) * long.Parse(data.Groups[2].Value, CultureInfo.InvariantCulture);
        }
        context.Runner.RunChecked(new ToolCommand("sync", "-f", volume.MountPoint));
        return FileSystemSignature.Read(volume.LoopDevice).SizeBytes;
    }

    [GeneratedRegex(@"data\s*=\s*bsize=(\d+)\s+blocks=(\d+)")]
    private static partial Regex XfsDataPattern();

    [GeneratedRegex(@"minimum size of the filesystem:\s*(\d+)")]
    private static partial Regex ExtMinimumPattern();

    private long ExtMinimum(string view)
    {
        var output = context.Runner.RunChecked(new ToolCommand("resize2fs", "-P", view)).StandardOutput;
        var blocks = long.Parse(ExtMinimumPattern().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        return blocks * FileSystemSignature.Read(view).BlockSize;
    }

    private long BtrfsMinimum(string mountPoint)
    {
        var output = context.Runner.RunChecked(new ToolCommand("btrfs", "inspect-internal", "min-dev-size", mountPoint)).StandardOutput;
        return long.Parse(output.Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    private string SwapUuid(string view)
    {
        var output = context.Runner.RunChecked(new ToolCommand("swaplabel", view)).StandardOutput;
        return output.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("UUID:", StringComparison.Ordinal))[5..].Trim();
    }

    private static string Kibibytes(long bytes) => ToolCommand.Number(bytes / 1024) + "K";

    private static void SetLength(string path, long length)
    {
        using var file = VolumeFile.OpenWrite(path);
        FileSpace.SetLength(file.Handle, length, path);
        RandomAccess.FlushToDisk(file.Handle);
    }

    private static void ExtendPreallocated(string path, long from, long to)
    {
        using var file = VolumeFile.OpenWrite(path);
        FileSpace.Reserve(file.Handle, from, to - from, path);
        RandomAccess.FlushToDisk(file.Handle);
    }
}
