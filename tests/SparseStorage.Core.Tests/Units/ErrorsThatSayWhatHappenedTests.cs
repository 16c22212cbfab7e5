using SparseStorage.Core.Encryption;
using SparseStorage.Core.Host;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Resize;

namespace SparseStorage.Core.Tests.Units;

/// <summary>Sizes that overflow, exposed key files, overcommit limits and the kernel's loop write errors, without root.</summary>
public sealed class ErrorsThatSayWhatHappenedTests : IDisposable
{
    private readonly TestPool pool = new();

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MaxValue - 100)]
    public void A_size_too_large_to_round_is_a_SizeOverflow_argument_error(long bytes)
    {
        var creator = new VolumeCreator(pool.Context(new RecordingRunner()));
        var act = () => creator.Plan(new NewVolumeRequest { Name = "huge", Size = new ByteSize(bytes) });
        act.Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == "SizeOverflow" && e.Message.Contains("8 EiB"));
    }

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MaxValue - (1L << 30))]
    public void A_delta_that_overflows_the_size_is_a_SizeOverflow_argument_error(long delta)
    {
        var volume = new SparseVolume { Name = "v", Path = "/pool/v.img", SizeBytes = 1L << 30 };
        var act = () => VolumeResizer.TargetOf(volume, ResizeRequest.By(volume, delta));
        act.Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == "SizeOverflow" && e.Message.Contains("8 EiB"));
    }

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite, null)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.GroupRead, "its group")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, "its group and every user")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.OtherRead, "every user")]
    public void A_key_file_others_can_read_carries_a_warning(UnixFileMode mode, string? readers)
    {
        var path = pool.Combine("volume.key");
        File.WriteAllText(path, "correct horse battery staple");
        File.SetUnixFileMode(path, mode);

        using var key = VolumeKey.FromFile(path);

        if (readers is null)
            key.ExposureWarning.Should().BeNull();
        else
            key.ExposureWarning.Should().Contain(path).And.Contain($"read by {readers} (mode").And.Contain($"chmod 600 {path}")
                .And.NotContain("correct horse", "a warning never shows the key");
    }

    [Fact]
    public void Promising_more_than_the_pool_can_hold_warns_and_passing_its_limit_refuses()
    {
        var described = new StoragePool
        {
            Name = "tenants", Path = "/srv/tenants", CapacityBytes = 100L << 30, FreeBytes = 40L << 30,
            ProvisionedBytes = 150L << 30, AllocatedBytes = 60L << 30, MaxOvercommit = 2,
        };

        ProvisioningGuard.Check(described, 10L << 30, "Creating a.img").Should().ContainSingle()
            .Which.Should().Contain("pool 'tenants'").And.Contain("100 GiB").And.Contain("40 GiB is free");
        ProvisioningGuard.Check(described, 0, "Shrinking").Should().BeEmpty();
        var act = () => ProvisioningGuard.Check(described, 60L << 30, "Growing b from 10 GiB to 70 GiB");
        act.Should().Throw<OvercommitLimitExceededException>().Where(e =>
            e.ErrorId == "OvercommitLimitExceeded" && e.Message.Contains("pool 'tenants'") && e.Message.Contains("ratio of 2.1 ") && e.Message.Contains("limit of 2 "));
        ProvisioningGuard.Check(new StoragePool { Name = "roomy", Path = "/r", CapacityBytes = 100L << 30, FreeBytes = 90L << 30 }, 10L << 30, "Creating c.img")
            .Should().BeEmpty();
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_limit_that_is_not_a_positive_ratio_is_refused_at_registration(double limit)
    {
        Directory.CreateDirectory(pool.Combine("limited"));
        var act = () => pool.Pools.Register("limited", pool.Combine("limited"), limit);
        act.Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == "InvalidMaxOvercommit");
        pool.Pools.Definitions().Should().NotContain(p => p.Name == "limited");
    }

    [Fact]
    public void The_limit_is_stored_with_the_pool_and_shown_on_it()
    {
        Directory.CreateDirectory(pool.Combine("limited"));
        pool.Pools.Register("limited", pool.Combine("limited"), 2.5).MaxOvercommit.Should().Be(2.5);
        pool.Pools.Get(["limited"]).Single().MaxOvercommit.Should().Be(2.5);
        pool.Pools.Get([TestPool.Name]).Single().MaxOvercommit.Should().BeNull();
    }

    [Fact]
    public void Loop_write_errors_count_only_writes_of_that_device_since_its_attachment()
    {
        // Kernel messages as Linux 6.18 wrote them when a 1 GiB volume filled a 256 MiB pool.
        string[] log =
        [
            "loop1: detected capacity change from 0 to 524288",
            "critical space allocation error, dev loop1, sector 8 op 0x1:(WRITE) flags 0x4000 phys_seg 20 prio class 2",
            "loop1: detected capacity change from 0 to 2097152",
            "EXT4-fs (loop1): mounted filesystem aa987603 r/w with ordered data mode. Quota mode: none.",
            "critical space allocation error, dev loop1, sector 739840 op 0x1:(WRITE) flags 0x4000 phys_seg 20 prio class 2",
            "I/O error, dev loop12, sector 0 op 0x1:(WRITE) flags 0x800 phys_seg 0 prio class 2",
            "I/O error, dev loop1, sector 0 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 2",
            "EXT4-fs warning (device loop1): ext4_end_bio:368: I/O error 3 writing to inode 12 starting block 93120)",
            "EXT4-fs (loop1): failed to convert unwritten extents to written extents -- potential data loss!  (inode 12, error -5)",
        ];

        var errors = LoopWriteErrors.SinceAttach("/dev/loop1", log);

        errors.Should().Equal(log[4], log[7], log[8]);
        LoopWriteErrors.SinceAttach("/dev/loop2", log).Should().BeEmpty();
    }

    public void Dispose() => pool.Dispose();
}
