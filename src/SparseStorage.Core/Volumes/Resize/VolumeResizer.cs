using System.Globalization;
using System.Text.RegularExpressions;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Volumes.Resize;

/// <summary>
/// Grows and shrinks a volume's image and filesystem together, in the order that cannot lose data:
/// grow = image, then device capacity, then filesystem; shrink = measure, refuse below used space plus a margin,
/// shrink and check the filesystem, and only then cut the image. The plan is a dry run of the same steps.
/// </summary>
public sealed partial class VolumeResizer(StorageContext context) : IPlannedOperation<ResizeRequest, ResizePlan, VolumeResizeResult>
{
    /// <summary>Target sizes are rounded up to whole MiB, a multiple of every filesystem block size.</summary>
    public const long Alignment = 1 << 20;
    private const long MinimumMargin = 64L << 20;
    private const int ExtProbeLength = 4096;

    /// <summary>The free space a shrink leaves above the filesystem's minimum: 10 %, at least 64 MiB.</summary>
    public static long Margin(long minimum) => Math.Max(MinimumMargin, minimum / 10);

    /// <summary>
    /// Reads the volume again, checks the request against it and lists the steps, changing nothing. A shrink below the
    /// space the filesystem's superblock says is used (plus the margin) is refused here, as the run would refuse it.
    /// </summary>
    public ResizePlan Plan(ResizeRequest request)
    {
        request.Validate();
        var volume = new VolumeCatalog(context).Get(request.Volume.Path);
        var attachment = context.ReadAttachments().Of(volume.Path);
        var warnings = Check(volume, attachment, request);
        var steps = StepRunner.ForPlan(context);
        Run(volume, attachment, request, steps, IsShrink(volume, request) ? SuperblockUsedBytes(volume, attachment) : 0);
        var newSize = request.ToMinimumSize ? (long?)null : TargetOf(volume, request);
        return new ResizePlan(request, volume, PlannedVolumeState.Of(volume, attachment), newSize, steps.Steps) { Warnings = warnings };
    }

    /// <summary>Takes the volume's lock, refuses if the volume changed since the plan, and runs the planned steps; a shrink measures its minimum with resize2fs -P or btrfs.</summary>
    public VolumeResizeResult Apply(ResizePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(plan.Target, cancellationToken);
        var before = new VolumeCatalog(context).Get(plan.Target);
        var attachment = context.ReadAttachments().Of(before.Path);
        plan.State.RequireSame(before, PlannedVolumeState.Of(before, attachment), "resize");
        Check(before, attachment, plan.Request); // the pool's overcommit limit again, now under the volume's lock
        var steps = StepRunner.ForApply(context, progress, $"Resizing {before.Name}", cancellationToken);
        Run(before, attachment, plan.Request, steps, 0);
        var after = new VolumeCatalog(context).Get(before.Path);
        return new VolumeResizeResult
        {
            Name = after.Name, Path = after.Path, OldSizeBytes = before.SizeBytes, NewSizeBytes = after.SizeBytes,
            FileSystem = after.FileSystem, FileSystemSizeBytes = LiveFileSystemSize(after), Steps = steps.Steps, Volume = after,
        };
    }

    /// <summary>Plans and applies at once, for callers that have nothing to confirm.</summary>
    public VolumeResizeResult Resize(ResizeRequest request, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Apply(Plan(request), progress, cancellationToken);

    internal static bool IsShrink(SparseVolume volume, ResizeRequest request) =>
        request.ToMinimumSize || TargetOf(volume, request) < volume.SizeBytes;

    /// <summary>The refusals that need no measurement; for a grow, the pool's warnings (or its MaxOvercommit refusal).</summary>
    private IReadOnlyList<string> Check(SparseVolume volume, VolumeAttachment attachment, ResizeRequest request)
    {
        ResizeRules.RequireResizable(volume, attachment);
        new BackingChains(context).RequireNoDependants(volume, "resized");
        if (IsShrink(volume, request))
        {
            ResizeRules.RequireShrinkable(volume, attachment);
            return [];
        }
        var target = TargetOf(volume, request);
        if (target <= volume.SizeBytes || context.Pools.PoolOf(volume.Path) is not { } pool)
            return [];
        return Pools.ProvisioningGuard.Check(context.Pools.Describe(pool), target - volume.SizeBytes,
            $"Growing {volume.Name} from {ByteSize.Format(volume.SizeBytes)} to {ByteSize.Format(target)}");
    }

    /// <param name="usedBySuperblock">What a dry run takes as the filesystem's minimum; a real run measures it.</param>
    private void Run(SparseVolume volume, VolumeAttachment attachment, ResizeRequest request, StepRunner steps, long usedBySuperblock)
    {
        if (IsShrink(volume, request))
            Shrink(volume, attachment, request, steps, usedBySuperblock);
        else if (TargetOf(volume, request) > volume.SizeBytes || ResizeRules.FileSystemLags(volume))
            Grow(volume, attachment, TargetOf(volume, request), steps);
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
            ResizeImage(volume, attachment, NewSize.Known(target), steps);
        using var access = new TemporaryAccess(context, volume, attachment, steps);
        GrowFileSystem(volume, attachment, target, access, steps);
        access.Close();
    }

    /// <summary>The filesystem's part of a grow, once its device (<paramref name="access"/>) has the new size.</summary>
    internal void GrowFileSystem(SparseVolume volume, VolumeAttachment attachment, long target, TemporaryAccess access, StepRunner steps)
    {
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
    }

    private void Shrink(SparseVolume volume, VolumeAttachment attachment, ResizeRequest request, StepRunner steps, long usedBySuperblock)
    {
        NewSize target;
        using (var access = new TemporaryAccess(context, volume, attachment, steps))
        {
            target = ShrinkFileSystem(volume, request, access, steps, usedBySuperblock);
            access.Close();
        }
        if (target.Bytes >= volume.SizeBytes)
            return;
        ResizeImage(volume, attachment, target, steps);
        if (volume.FileSystem == FileSystemType.Swap)
        {
            using var access = new TemporaryAccess(context, volume, attachment, steps);
            RecreateSwap(volume, access.RawView(), steps);
            access.Close();
        }
    }

    /// <summary>
    /// The filesystem's part of a shrink, before the image is cut: measures its minimum, refuses below it plus the
    /// margin, shrinks and checks it; returns the size to cut the image to.
    /// </summary>
    internal NewSize ShrinkFileSystem(SparseVolume volume, ResizeRequest request, TemporaryAccess access, StepRunner steps, long usedBySuperblock) =>
        volume.FileSystem switch
        {
            FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4 => ShrinkExt(volume, request, access.RawView(), steps, usedBySuperblock),
            FileSystemType.Btrfs => ShrinkBtrfs(volume, request, access.MountPoint(), steps, usedBySuperblock),
            _ => NewSize.Known(ResizeRules.TargetWithoutFileSystem(volume, request)),
        };

    private NewSize ShrinkExt(SparseVolume volume, ResizeRequest request, string view, StepRunner steps, long usedBySuperblock)
    {
        CheckExt(view, steps);
        var minimum = steps.Measure($"resize2fs -P {view}", () => ExtMinimum(view), usedBySuperblock);
        var target = ChooseShrinkTarget(volume, request, minimum);
        if (target.Bytes >= volume.SizeBytes)
            return target;
        steps.Tool(new ToolCommand("resize2fs", view, target.Show(steps, Kibibytes)) { Timeout = TimeSpan.FromHours(2) });
        steps.Tool(new ToolCommand("e2fsck", "-f", "-n", view) { Timeout = TimeSpan.FromHours(2) });
        return target;
    }

    private NewSize ShrinkBtrfs(SparseVolume volume, ResizeRequest request, string mountPoint, StepRunner steps, long usedBySuperblock)
    {
        var minimum = steps.Measure($"btrfs inspect-internal min-dev-size {mountPoint}", () => BtrfsMinimum(mountPoint), usedBySuperblock);
        var target = ChooseShrinkTarget(volume, request, minimum);
        if (target.Bytes < volume.SizeBytes)
            steps.Tool(new ToolCommand("btrfs", "filesystem", "resize", target.Show(steps, ToolCommand.Number), mountPoint) { Timeout = TimeSpan.FromHours(2) });
        return target;
    }

    /// <summary>
    /// -ToMinimumSize: minimum plus margin; an explicit size: refused below minimum plus margin. In a dry run the
    /// minimum is the superblock's used space, which never exceeds the measured one: a size refused then is refused by
    /// the run too.
    /// </summary>
    private static NewSize ChooseShrinkTarget(SparseVolume volume, ResizeRequest request, long minimum)
    {
        var floor = new ByteSize(minimum + Margin(minimum)).RoundUpTo(Alignment).Bytes;
        if (request.ToMinimumSize)
            return new NewSize(Math.Min(floor, volume.SizeBytes), Measured: true);
        var target = TargetOf(volume, request);
        if (target < floor)
            throw new ShrinkBelowUsedException(
                $"{volume.Name} cannot shrink to {ByteSize.Format(target)}: its {volume.FileSystem} filesystem needs at least {ByteSize.Format(minimum)} " +
                $"plus a margin of {ByteSize.Format(Margin(minimum))}, so the smallest size is {ByteSize.Format(floor)}. The volume's size was not changed.", volume);
        return NewSize.Known(target);
    }

    /// <summary>A new size; a measured one (-ToMinimumSize) is shown by a dry run as what it is, not as the dry run's estimate.</summary>
    internal readonly record struct NewSize(long Bytes, bool Measured)
    {
        public static NewSize Known(long bytes) => new(bytes, false);

        public string Show(StepRunner steps, Func<long, string> format) => Measured && steps.DryRun ? ResizePlan.MeasuredSize : format(Bytes);
    }

    /// <summary>
    /// The space the filesystem uses by its superblock, read natively so that a plan can refuse a shrink below it;
    /// 0 where it cannot be read here (a qcow2 cluster only qemu can decode, a superblock that contradicts itself):
    /// then the run's own measurement decides alone.
    /// </summary>
    private static long SuperblockUsedBytes(SparseVolume volume, VolumeAttachment attachment)
    {
        if (volume.FileSystem is not (FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4 or FileSystemType.Btrfs))
            return 0;
        var head = new byte[volume.FileSystem == FileSystemType.Btrfs ? FileSystemSignature.ProbeLength : ExtProbeLength];
        try
        {
            return ReadGuestHead(volume, attachment, head) ? FileSystemUsage.UsedBytes(head) ?? 0 : 0;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or SparseStorageException)
        {
            return 0;
        }
    }

    /// <summary>The first bytes the guest sees: through the loop device or FUSE export when attached, else from the image.</summary>
    private static bool ReadGuestHead(SparseVolume volume, VolumeAttachment attachment, byte[] head)
    {
        if ((attachment.LoopDevice ?? attachment.FuseExport?.ExportPath) is { } device)
        {
            using var view = File.OpenHandle(device, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return RandomAccess.Read(view, head, 0) == head.Length;
        }
        using var image = VolumeFile.OpenRead(volume.Path);
        if (volume.Format == VolumeFormat.Raw)
            return RandomAccess.Read(image.Handle, head, 0) == head.Length;
        var start = new byte[ExtProbeLength];
        var read = RandomAccess.Read(image.Handle, start, 0);
        return new Qcow2GuestReader(image.Handle, Qcow2Header.Parse(start.AsSpan(0, read))).TryRead(0, head);
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

    private void ResizeImage(SparseVolume volume, VolumeAttachment attachment, NewSize target, StepRunner steps)
    {
        var exporter = context.FuseExporter();
        var bytes = target.Show(steps, ToolCommand.Number);
        if (volume.Format == VolumeFormat.Qcow2 && attachment.FuseExport is { } export)
            steps.Do($"block_resize disk0 {bytes} (QMP, qemu-storage-daemon pid {export.ProcessId})", () => exporter.Resize(export, target.Bytes));
        else if (volume.Format == VolumeFormat.Qcow2)
            steps.Tool(new ToolCommand("qemu-img", ["resize", "-q", "-f", "qcow2", .. target.Bytes < volume.SizeBytes ? new[] { "--shrink" } : [], volume.Path, bytes]));
        else if (target.Bytes > volume.SizeBytes && volume.AllocatedBytes >= volume.SizeBytes)
            steps.Do($"fallocate -o {volume.SizeBytes} -l {target.Bytes - volume.SizeBytes} {volume.Path}", () => ExtendPreallocated(volume.Path, volume.SizeBytes, target.Bytes));
        else
            steps.Do($"truncate -s {bytes} {volume.Path}", () => SetLength(volume.Path, target.Bytes));
        if (attachment.LoopDevice is not null)
            steps.Tool(new ToolCommand("losetup", "--set-capacity", attachment.LoopDevice));
    }

    private void CheckExt(string view, StepRunner steps) =>
        steps.Tool(new ToolCommand("e2fsck", "-f", "-y", view) { SuccessExitCodes = [0, 1], Timeout = TimeSpan.FromHours(2) });

    internal void RecreateSwap(SparseVolume volume, string view, StepRunner steps)
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
