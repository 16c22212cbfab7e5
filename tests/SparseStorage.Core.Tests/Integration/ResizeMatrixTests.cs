using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Resize;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// {ext4, xfs, btrfs, none} × {grow, shrink} × {mounted, not mounted} × {raw, qcow2}: files with known SHA-256
/// sums are written first; after the resize the sums match, fsck is clean and the sizes are what was asked — or the
/// resize is refused with its specific error and nothing changed. "Mounted" for a volume without a filesystem means
/// attached to a loop device by hand.
/// </summary>
public sealed class ResizeMatrixTests : IDisposable
{
    private const long Start = 512L << 20;
    private const long Grown = 768L << 20;
    private const long Shrunk = 448L << 20;
    private readonly TestPool pool = new();
    private readonly ProcessRunner runner = new();

    public static TheoryData<VolumeFormat, FileSystemType, bool, bool, string?> Matrix()
    {
        var data = new TheoryData<VolumeFormat, FileSystemType, bool, bool, string?>();
        foreach (var format in new[] { VolumeFormat.Raw, VolumeFormat.Qcow2 })
            foreach (var fs in new[] { FileSystemType.Ext4, FileSystemType.Xfs, FileSystemType.Btrfs, FileSystemType.None })
                foreach (var mounted in new[] { false, true })
                {
                    data.Add(format, fs, true, mounted, null);
                    data.Add(format, fs, false, mounted, fs switch
                    {
                        FileSystemType.Xfs => "XfsCannotShrink",
                        FileSystemType.Ext4 when mounted => "ShrinkWhileMounted",
                        _ => null,
                    });
                }
        return data;
    }

    [IntegrationTheory("losetup", "mount", "qemu-img", "qemu-storage-daemon", "resize2fs", "xfs_growfs", "btrfs", "xfs_repair")]
    [MemberData(nameof(Matrix))]
    public void Resize_keeps_every_byte(VolumeFormat format, FileSystemType fileSystem, bool grow, bool mounted, string? refusal)
    {
        var context = pool.Context();
        var volume = Create(context, format, fileSystem);
        var sums = WriteSample(context, volume);
        var attachment = mounted ? Attach(context, volume) : null;
        var target = grow ? Grown : Shrunk;
        var resizer = new VolumeResizer(context);
        var current = new VolumeCatalog(context).Get(volume.Path);

        if (refusal is not null)
        {
            FluentActions.Invoking(() => resizer.Resize(ResizeRequest.To(current, new ByteSize(target))))
                .Should().Throw<ResizeNotSupportedException>().Where(e => e.ErrorId == refusal);
            new VolumeCatalog(context).Get(volume.Path).SizeBytes.Should().Be(Start, "a refused resize changes nothing");
        }
        else
        {
            var result = ResizeAllowingOfflineFinish(context, current, target, mounted && fileSystem == FileSystemType.Ext4);
            result.OldSizeBytes.Should().Be(Start);
            result.NewSizeBytes.Should().Be(target);
            if (fileSystem != FileSystemType.None)
                result.FileSystemSizeBytes.Should().BeInRange(target - (1 << 20), target);
            if (attachment is not null && fileSystem is FileSystemType.Xfs or FileSystemType.Btrfs)
                (new DriveInfo(attachment).TotalSize > Start).Should().Be(grow, "df sees the new size without a remount");
            if (attachment is not null && fileSystem == FileSystemType.None)
                DeviceSize(new VolumeCatalog(context).Get(volume.Path).LoopDevice!).Should().Be(target, "the loop device capacity follows the image");
        }

        new VolumeMounter(context).Dismount(new VolumeCatalog(context).Get(volume.Path));
        VerifySample(context, volume, sums);
        CheckFileSystem(volume, fileSystem);
    }

    [IntegrationFact("resize2fs")]
    public void Shrinking_below_used_space_is_refused_and_changes_nothing()
    {
        var context = pool.Context();
        var volume = Create(context, VolumeFormat.Raw, FileSystemType.Ext4);
        var sums = WriteSample(context, volume);
        FluentActions.Invoking(() => new VolumeResizer(context).Resize(ResizeRequest.To(volume, ByteSize.FromMiB(40))))
            .Should().Throw<ShrinkBelowUsedException>().Where(e => e.ErrorId == "ShrinkBelowUsedSpace" && e.Message.Contains("size was not changed"));
        new VolumeCatalog(context).Get(volume.Path).SizeBytes.Should().Be(Start);
        VerifySample(context, volume, sums);
    }

    [IntegrationFact("resize2fs")]
    public void A_failing_filesystem_shrink_never_cuts_the_image()
    {
        var healthy = pool.Context();
        var volume = Create(healthy, VolumeFormat.Raw, FileSystemType.Ext4);
        var sums = WriteSample(healthy, volume);
        var failing = pool.Context(new SpyRunner(new ProcessRunner(), c => c.Tool == "resize2fs" && !c.Arguments.Contains("-P")));
        FluentActions.Invoking(() => new VolumeResizer(failing).Resize(ResizeRequest.To(volume, new ByteSize(Shrunk))))
            .Should().Throw<ToolFailedException>().Where(e => e.Tool == "resize2fs");
        var after = new VolumeCatalog(healthy).Get(volume.Path);
        after.SizeBytes.Should().Be(Start, "the image is cut only after the filesystem has shrunk");
        after.FileSystemSizeBytes.Should().Be(Start);
        VerifySample(healthy, volume, sums);
        CheckFileSystem(volume, FileSystemType.Ext4);
    }

    [IntegrationTheory("resize2fs", "btrfs")]
    [InlineData(FileSystemType.Ext4)]
    [InlineData(FileSystemType.Btrfs)]
    public void To_minimum_size_shrinks_to_used_space_plus_margin(FileSystemType fileSystem)
    {
        var context = pool.Context();
        var volume = Create(context, VolumeFormat.Raw, fileSystem, 1L << 30);
        var sums = WriteSample(context, volume);
        var result = new VolumeResizer(context).Resize(ResizeRequest.ToMinimum(volume));
        result.NewSizeBytes.Should().BeLessThan(1L << 30).And.BeGreaterThan(64L << 20);
        VerifySample(context, volume, sums);
        CheckFileSystem(volume, fileSystem);
    }

    [IntegrationTheory("mkswap", "swaplabel", "blkid", "qemu-img")]
    [InlineData(VolumeFormat.Raw, true)]
    [InlineData(VolumeFormat.Raw, false)]
    [InlineData(VolumeFormat.Qcow2, true)]
    public void Swap_is_recreated_with_its_uuid_and_label(VolumeFormat format, bool grow)
    {
        var context = pool.Context();
        var creator = new VolumeCreator(context);
        var volume = creator.Create(creator.Plan(new NewVolumeRequest { Name = "swap", Size = ByteSize.FromMiB(64), Format = format, FileSystem = FileSystemType.Swap, Label = "sw" }));
        var before = Blkid(volume);
        var target = ByteSize.FromMiB(grow ? 96 : 48);
        var result = new VolumeResizer(context).Resize(ResizeRequest.To(volume, target));
        result.NewSizeBytes.Should().Be(target.Bytes);
        result.FileSystemSizeBytes.Should().Be(target.Bytes, "the swap signature spans the new size");
        var after = Blkid(volume);
        after["UUID"].Should().Be(before["UUID"]);
        after["LABEL"].Should().Be("sw");
    }

    private Dictionary<string, string> Blkid(SparseVolume volume) =>
        runner.RunChecked(new ToolCommand("blkid", "-o", "export", "-p", RawCopyPath(volume))).StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    [IntegrationFact("mkfs.xfs")]
    public void A_read_only_mount_is_refused_before_anything_changes()
    {
        var context = pool.Context();
        var volume = Create(context, VolumeFormat.Raw, FileSystemType.Xfs);
        var mounted = new VolumeMounter(context).Mount(volume, pool.Combine("ro"), readOnly: true);
        FluentActions.Invoking(() => new VolumeResizer(context).Resize(ResizeRequest.To(mounted, new ByteSize(Grown))))
            .Should().Throw<VolumeInUseException>().WithMessage("*read-only*");
        new VolumeCatalog(context).Get(volume.Path).SizeBytes.Should().Be(Start);
    }

    [IntegrationFact("resize2fs")]
    public void Same_size_is_a_no_op_and_bad_targets_are_refused()
    {
        var context = pool.Context();
        var volume = Create(context, VolumeFormat.Raw, FileSystemType.Ext4);
        var spy = new SpyRunner(new ProcessRunner());
        var result = new VolumeResizer(pool.Context(spy)).Resize(ResizeRequest.To(volume, new ByteSize(Start)));
        result.Steps.Should().BeEmpty();
        spy.Commands.Should().BeEmpty();
        var resizer = new VolumeResizer(context);
        FluentActions.Invoking(() => resizer.Resize(ResizeRequest.By(volume, -Start))).Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == "InvalidSize");
        FluentActions.Invoking(() => resizer.Resize(new ResizeRequest(volume))).Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == "ResizeTargetRequired");
        FluentActions.Invoking(() => resizer.Resize(new ResizeRequest(volume) { Size = new ByteSize(Grown), Delta = 5 })).Should().Throw<InvalidStorageArgumentException>();
    }

    [IntegrationFact("qemu-img", "resize2fs")]
    public void The_plan_lists_the_real_commands_and_changes_nothing()
    {
        var context = pool.Context();
        var volume = Create(context, VolumeFormat.Qcow2, FileSystemType.Ext4);
        var plan = new VolumeResizer(context).Plan(ResizeRequest.To(volume, new ByteSize(Grown))).Steps;
        plan[0].Should().Be($"qemu-img resize -q -f qcow2 {volume.Path} {Grown}");
        plan.Should().Contain(s => s.StartsWith("qemu-storage-daemon ")).And.Contain(s => s.StartsWith("e2fsck -f -y "))
            .And.Contain(s => s.StartsWith("resize2fs ") && s.EndsWith($" {Grown / 1024}K"));
        new VolumeCatalog(context).Get(volume.Path).SizeBytes.Should().Be(Start);
        LiveProcesses.CommandLinesMentioning(pool.Root).Should().BeEmpty();
    }

    private VolumeResizeResult ResizeAllowingOfflineFinish(StorageContext context, SparseVolume volume, long target, bool mountedExt4)
    {
        try
        {
            return new VolumeResizer(context).Resize(ResizeRequest.To(volume, new ByteSize(target)));
        }
        catch (ResizeNotSupportedException e) when (mountedExt4 && e.ErrorId == "OnlineResizeRefused")
        {
            // This kernel refuses online ext4 resize (EPERM); the volume must be consistent at the old filesystem size.
            var halfway = new VolumeCatalog(context).Get(volume.Path);
            halfway.SizeBytes.Should().Be(target);
            halfway.FileSystemSizeBytes.Should().Be(Start);
            var dismounted = new VolumeMounter(context).Dismount(halfway);
            var finished = new VolumeResizer(context).Resize(ResizeRequest.To(dismounted, new ByteSize(target)));
            return new VolumeResizeResult
            {
                Name = finished.Name, Path = finished.Path, OldSizeBytes = Start, NewSizeBytes = finished.NewSizeBytes,
                FileSystem = finished.FileSystem, FileSystemSizeBytes = finished.FileSystemSizeBytes, Volume = finished.Volume,
            };
        }
    }

    private SparseVolume Create(StorageContext context, VolumeFormat format, FileSystemType fileSystem, long size = Start)
    {
        var creator = new VolumeCreator(context);
        return creator.Create(creator.Plan(new NewVolumeRequest { Name = "rs", Size = new ByteSize(size), Format = format, FileSystem = fileSystem }));
    }

    /// <summary>Writes sample files through a mount, or for a volume without a filesystem, marker blocks straight into its raw bytes.</summary>
    private Dictionary<string, string> WriteSample(StorageContext context, SparseVolume volume)
    {
        if (volume.FileSystem == FileSystemType.None)
            return WriteRawMarkers(volume);
        var mountPoint = pool.Combine("sample");
        var mounted = new VolumeMounter(context).Mount(volume, mountPoint, false);
        try
        {
            return Files.WriteSample(mountPoint);
        }
        finally
        {
            new VolumeMounter(context).Dismount(mounted);
        }
    }

    private void VerifySample(StorageContext context, SparseVolume volume, Dictionary<string, string> sums)
    {
        if (volume.FileSystem == FileSystemType.None)
        {
            ReadRawMarkers(volume).Should().Equal(sums);
            return;
        }
        var mountPoint = pool.Combine("verify");
        var mounted = new VolumeMounter(context).Mount(volume, mountPoint, true);
        try
        {
            Files.Hash(mountPoint, sums.Keys).Should().Equal(sums);
        }
        finally
        {
            new VolumeMounter(context).Dismount(mounted);
        }
    }

    private Dictionary<string, string> WriteRawMarkers(SparseVolume volume)
    {
        var raw = RawCopyPath(volume);
        using (var file = new FileStream(raw, FileMode.Open, FileAccess.Write))
            foreach (var offset in MarkerOffsets)
            {
                file.Position = offset;
                file.Write(System.Text.Encoding.ASCII.GetBytes($"marker@{offset}"));
            }
        if (volume.Format == VolumeFormat.Qcow2)
            runner.RunChecked(new ToolCommand("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, volume.Path));
        return ReadRawMarkers(volume);
    }

    private Dictionary<string, string> ReadRawMarkers(SparseVolume volume)
    {
        var raw = RawCopyPath(volume);
        using var file = File.OpenRead(raw);
        return MarkerOffsets.ToDictionary(o => o.ToString(), o =>
        {
            var buffer = new byte[32];
            file.Position = o;
            file.ReadExactly(buffer);
            return System.Text.Encoding.ASCII.GetString(buffer).TrimEnd('\0');
        });
    }

    // Clear of the first 4 KiB and the btrfs superblock area, so the volume still reads as holding no filesystem.
    private static readonly long[] MarkerOffsets = [1 << 20, (200L << 20) + 17, (440L << 20) - 4096];

    /// <summary>The raw bytes of the volume: the image itself, or a raw conversion of a qcow2 image.</summary>
    private string RawCopyPath(SparseVolume volume)
    {
        if (volume.Format == VolumeFormat.Raw)
            return volume.Path;
        var raw = pool.Combine("raw-copy.img");
        File.Delete(raw);
        runner.RunChecked(new ToolCommand("qemu-img", "convert", "-f", "qcow2", "-O", "raw", volume.Path, raw));
        return raw;
    }

    private void CheckFileSystem(SparseVolume volume, FileSystemType fileSystem)
    {
        var raw = RawCopyPath(new VolumeCatalog(pool.Context()).Get(volume.Path));
        var check = fileSystem switch
        {
            FileSystemType.Ext4 => new ToolCommand("e2fsck", "-f", "-n", raw),
            FileSystemType.Xfs => new ToolCommand("xfs_repair", "-n", "-f", raw),
            FileSystemType.Btrfs => new ToolCommand("btrfs", "check", "--readonly", raw),
            _ => null,
        };
        if (check is not null)
            runner.Run(check).ExitCode.Should().Be(0, $"{check} must find the filesystem clean");
    }

    private string Attach(StorageContext context, SparseVolume volume)
    {
        if (volume.FileSystem != FileSystemType.None)
            return new VolumeMounter(context).Mount(volume, pool.Combine("live"), false).MountPoint!;
        if (volume.Format == VolumeFormat.Qcow2)
        {
            var export = new Core.Devices.FuseExporter(runner, pool.Runtime).Start(volume.Path, Core.Devices.FuseExportOptions.Qcow2(false), default);
            runner.RunChecked(new ToolCommand("losetup", "--find", export.ExportPath));
        }
        else
        {
            runner.RunChecked(new ToolCommand("losetup", "--find", volume.Path));
        }
        return "";
    }

    private long DeviceSize(string device) =>
        long.Parse(runner.RunChecked(new ToolCommand("blockdev", "--getsize64", device)).StandardOutput.Trim());

    public void Dispose() => pool.Dispose();
}
