using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Maintenance;
using SparseStorage.Core.Volumes.Resize;
using Xunit.Abstractions;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// A new volume costs at most 64 MiB of the pool whatever its size and filesystem, and its filesystem is sound.
/// The pool lies in /var/tmp, on ext4 with 4 KiB blocks, whose largest file is 16 TiB - 4 KiB: 16 TB fits.
/// </summary>
public sealed class ThinProvisioningTests(ITestOutputHelper output) : IDisposable
{
    private const long Budget = 64L << 20;
    private const long OneGiB = 1L << 30;
    private const long TwoTB = 2_000_000_000_000;
    private const long SixteenTB = 16_000_000_000_000;
    private readonly TestPool pool = new();

    public static TheoryData<FileSystemType, long, VolumeFormat> NewVolumes()
    {
        var data = new TheoryData<FileSystemType, long, VolumeFormat>();
        foreach (var fs in new[] { FileSystemType.Ext2, FileSystemType.Ext3, FileSystemType.Ext4, FileSystemType.Xfs, FileSystemType.Btrfs, FileSystemType.Swap, FileSystemType.None })
            foreach (var size in new[] { OneGiB, TwoTB, SixteenTB })
                data.Add(fs, size, VolumeFormat.Raw);
        foreach (var fs in new[] { FileSystemType.Ext4, FileSystemType.Xfs, FileSystemType.Btrfs })
            data.Add(fs, TwoTB, VolumeFormat.Qcow2);
        return data;
    }

    [IntegrationTheory("mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "mkswap", "qemu-img", "e2fsck", "xfs_repair", "btrfs")]
    [MemberData(nameof(NewVolumes))]
    public void A_new_volume_stays_thin_and_its_filesystem_checks_clean(FileSystemType fileSystem, long size, VolumeFormat format)
    {
        var context = pool.Context();
        var volume = pool.CreateVolume(context, "thin", new ByteSize(size), format, fileSystem);

        output.WriteLine($"{format} {fileSystem} {ByteSize.Format(size)}: {volume.AllocatedBytes / (1 << 20)} MiB allocated");
        volume.SizeBytes.Should().Be(size);
        volume.FileSystem.Should().Be(fileSystem == FileSystemType.None ? FileSystemType.None : fileSystem);
        volume.AllocatedBytes.Should().BeLessThanOrEqualTo(AllowedFor(fileSystem, size));
        if (fileSystem is FileSystemType.Ext2 or FileSystemType.Ext3 && size == SixteenTB)
        {
            // e2fsck -f reads every inode table of ext2 and ext3 (they have no uninit_bg): 125 GB of holes at 16 TB,
            // over ten minutes. Their superblock is read instead; every other case runs the full checker.
            volume.FileSystemSizeBytes.Should().Be(size);
            return;
        }
        AssertChecksClean(context, volume);
    }

    public static TheoryData<FileSystemType> Growable() => [FileSystemType.Ext4, FileSystemType.Xfs, FileSystemType.Btrfs, FileSystemType.Swap, FileSystemType.None];

    [IntegrationTheory("mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "mkswap", "resize2fs", "xfs_growfs", "e2fsck", "xfs_repair", "btrfs", "losetup", "mount")]
    [MemberData(nameof(Growable))]
    public void Growing_to_16_TB_stays_thin_and_its_filesystem_checks_clean(FileSystemType fileSystem)
    {
        var context = pool.Context();
        // xfs keeps the allocation group size it was made with, so a 1 GiB xfs grown 16000-fold gets 60,000 allocation
        // groups (1.4 GiB of headers, and a check that takes many minutes): it starts at 2 TB, as xfs volumes should.
        var start = fileSystem == FileSystemType.Xfs ? new ByteSize(TwoTB) : ByteSize.FromGiB(1);
        var volume = pool.CreateVolume(context, "grown", start, VolumeFormat.Raw, fileSystem);

        var result = new VolumeResizer(context).Resize(ResizeRequest.To(volume, new ByteSize(SixteenTB)));

        var grown = new VolumeCatalog(context).Get(volume.Path);
        output.WriteLine($"{fileSystem} grown to 16 TB: {grown.AllocatedBytes / (1 << 20)} MiB allocated; {string.Join("; ", result.Steps)}");
        grown.SizeBytes.Should().Be(new ByteSize(SixteenTB).RoundUpTo(VolumeResizer.Alignment).Bytes);
        if (fileSystem is not FileSystemType.None and not FileSystemType.Swap)
            grown.FileSystemSizeBytes.Should().BeGreaterThan(SixteenTB - (1L << 30));
        grown.AllocatedBytes.Should().BeLessThanOrEqualTo(AllowedAfterGrowing(fileSystem, grown.SizeBytes));
        AssertChecksClean(context, grown);
    }

    /// <summary>
    /// Growing writes no journal or log (neither grows), only the new space's metadata: ext4 gains three descriptor
    /// blocks per 64 block groups and its flex-group bitmaps (66 MiB at 16 TB).
    /// </summary>
    private static long AllowedAfterGrowing(FileSystemType fileSystem, long newSize) =>
        fileSystem == FileSystemType.Ext4 ? Budget + newSize / 8192 / 64 : Budget;

    /// <summary>
    /// ext2 and ext3 have no uninit_bg: mke2fs writes both bitmaps of every 128 MiB block group (8 KiB each), which no
    /// option avoids. Everything else stays within the budget.
    /// </summary>
    private static long AllowedFor(FileSystemType fileSystem, long size) =>
        fileSystem is FileSystemType.Ext2 or FileSystemType.Ext3 ? Budget + size / 16384 : Budget;

    private void AssertChecksClean(StorageContext context, SparseVolume volume)
    {
        var test = new VolumeChecker(context).Test(volume);
        test.Findings.Should().NotContain(f => f.Severity == FindingSeverity.Error);
        if (FileSystemRules.ReadOnlyCheck(volume.FileSystem, "") is not null)
            test.Checks.Should().Contain(c => c.StartsWith(FileSystemRules.ReadOnlyCheck(volume.FileSystem, "")!.Value.Command.Tool, StringComparison.Ordinal));
    }

    public void Dispose() => pool.Dispose();
}
