using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Units;

/// <summary>Validation and the exact commands of a creation plan, without running anything.</summary>
public sealed class CreatePlanTests : IDisposable
{
    private readonly TestPool pool = new();
    private VolumeCreator Creator => new(pool.Context(new RecordingRunner()));

    [Fact]
    public void A_preallocated_volume_is_formatted_without_discard_so_it_stays_allocated()
    {
        var plan = Creator.Plan(new NewVolumeRequest { Name = "p", Size = ByteSize.FromGiB(1), FileSystem = FileSystemType.Ext4, Preallocation = Preallocation.Full });
        plan.Commands.Single().Arguments.Should().ContainInOrder("-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard");
        var thin = Creator.Plan(new NewVolumeRequest { Name = "t", Size = ByteSize.FromGiB(1), FileSystem = FileSystemType.Xfs });
        thin.Commands.Single().Arguments.Should().NotContain("-K");
    }

    [Fact]
    public void Sizes_are_rounded_up_to_whole_sectors() =>
        Creator.Plan(new NewVolumeRequest { Name = "r", Size = new ByteSize(1000) }).Size.Bytes.Should().Be(1024);

    [Theory]
    [InlineData(FileSystemType.Xfs, 299, null, "VolumeTooSmallForFileSystem")]
    [InlineData(FileSystemType.Btrfs, 100, null, "VolumeTooSmallForFileSystem")]
    [InlineData(FileSystemType.Ext4, 64, "seventeen-bytes!!", "InvalidLabel")]
    [InlineData(FileSystemType.Xfs, 512, "thirteen-byte", "InvalidLabel")]
    [InlineData(FileSystemType.None, 64, "label", "LabelWithoutFileSystem")]
    [InlineData(FileSystemType.Unknown, 64, null, "UnsupportedFileSystem")]
    public void Filesystem_limits_are_checked_before_anything_runs(FileSystemType type, int mib, string? label, string errorId)
    {
        var act = () => Creator.Plan(new NewVolumeRequest { Name = "v", Size = ByteSize.FromMiB(mib), FileSystem = type, Label = label });
        act.Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == errorId);
    }

    [Fact]
    public void Zero_sizes_luks_and_wrong_extensions_are_refused()
    {
        Expect(() => Creator.Plan(new NewVolumeRequest { Name = "z", Size = ByteSize.Zero }), "InvalidSize");
        Expect(() => Creator.Plan(new NewVolumeRequest { Name = "l", Size = ByteSize.FromMiB(8), Format = VolumeFormat.Luks }), "UnsupportedFormat");
        Expect(() => Creator.Plan(new NewVolumeRequest { Path = Path.Combine(pool.PoolPath, "v.dat"), Size = ByteSize.FromMiB(8) }), "InvalidVolumeExtension");
        Expect(() => Creator.Plan(new NewVolumeRequest { Path = Path.Combine(pool.PoolPath, "v.img"), Size = ByteSize.FromMiB(8), Format = VolumeFormat.Qcow2 }), "InvalidVolumeExtension");
    }

    [Fact]
    public void The_pool_may_be_omitted_only_when_there_is_one()
    {
        Creator.Plan(new NewVolumeRequest { Name = "only", Size = ByteSize.FromMiB(8) }).PoolName.Should().Be(TestPool.Name);
        Directory.CreateDirectory(pool.Combine("second"));
        pool.Pools.Register("second", pool.Combine("second"));
        Expect(() => Creator.Plan(new NewVolumeRequest { Name = "two", Size = ByteSize.FromMiB(8) }), "PoolRequired");
        Creator.Plan(new NewVolumeRequest { Name = "two", Pool = "second", Size = ByteSize.FromMiB(8) }).TargetPath
            .Should().Be(Path.Combine(pool.Combine("second"), "two.img"));
    }

    [Fact]
    public void A_qcow2_without_filesystem_is_one_qemu_img_create()
    {
        var runner = new RecordingRunner();
        var creator = new VolumeCreator(pool.Context(runner));
        var plan = creator.Plan(new NewVolumeRequest { Name = "q", Size = ByteSize.FromGiB(2), Format = VolumeFormat.Qcow2, Preallocation = Preallocation.Full });
        plan.Commands.Should().ContainSingle().Which.Arguments.Should()
            .Equal("create", "-q", "-f", "qcow2", "-o", "preallocation=falloc", plan.TemporaryPath, "2147483648");
        runner.Commands.Should().BeEmpty("planning runs nothing");
    }

    [Fact]
    public void A_thin_volume_is_formatted_without_zeroing_and_its_zeroed_extents_are_punched()
    {
        var raw = Creator.Plan(new NewVolumeRequest { Name = "r", Size = ByteSize.FromGiB(1), FileSystem = FileSystemType.Ext4 });
        raw.Commands.Single().Arguments.Should().ContainInOrder("-O", "^resize_inode,meta_bg", "-E", "lazy_itable_init=1,lazy_journal_init=1");
        raw.Steps.Should().Contain(SiblingFile.AsPlanned($"punch the unwritten (zeroed) extents of {raw.TemporaryPath}", raw.TemporaryPath));

        var qcow2 = Creator.Plan(new NewVolumeRequest { Name = "q", Size = ByteSize.FromGiB(1), Format = VolumeFormat.Qcow2, FileSystem = FileSystemType.Ext4 });
        qcow2.Commands[0].Arguments.Should().ContainInOrder("-E", "lazy_itable_init=1,lazy_journal_init=1,packed_meta_blocks=1").And.NotContain("^resize_inode,meta_bg");
        qcow2.Steps.Should().Contain(SiblingFile.AsPlanned($"punch the unwritten (zeroed) extents of {qcow2.RawStagingPath}", qcow2.TemporaryPath));

        var full = Creator.Plan(new NewVolumeRequest { Name = "f", Size = ByteSize.FromGiB(1), FileSystem = FileSystemType.Xfs, Preallocation = Preallocation.Full });
        full.PunchesUnwrittenExtents.Should().BeFalse("a preallocated volume's unwritten extents are its reservation");
        FileSystemRules.MakeCommand(FileSystemType.Ext4, "/dev/etherd/e7.1", null).Arguments.Should().NotContain("-E", "a device may hold old data: mkfs zeroes it");
    }

    private static void Expect(Action act, string errorId) =>
        act.Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == errorId);

    public void Dispose() => pool.Dispose();
}
