using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Maintenance;
using SparseStorage.Core.Volumes.Resize;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// What happens at the edges of a pool, on real files and loop devices: sizes beyond the host's largest file, a
/// full pool, an overcommit limit, a volume whose pool filled under it, and two creations of one name at once.
/// </summary>
public sealed class PoolLimitsTests : IDisposable
{
    private const long SmallPoolBytes = 256L << 20;
    private readonly TestPool pool = new();

    [IntegrationFact("mkfs.ext4")]
    public void A_size_beyond_the_host_filesystems_largest_file_names_the_size_and_the_filesystem()
    {
        // The test pool lies in /var/tmp on ext4 with 4 KiB blocks: its largest file is 16 TiB - 4 KiB.
        var context = pool.Context();
        var creator = new VolumeCreator(context);
        var plan = creator.Plan(new NewVolumeRequest { Name = "vast", Size = new ByteSize(17L << 40) });

        var act = () => creator.Create(plan);

        act.Should().Throw<SizeBeyondHostFileLimitException>().Where(e =>
            e.ErrorId == "SizeBeyondHostFileLimit" && e.Message.Contains("17 TiB") && e.Message.Contains("ext4") && e.Message.Contains(pool.PoolPath));
        Directory.GetFileSystemEntries(pool.PoolPath).Should().BeEmpty("a refused creation leaves nothing behind");
    }

    [IntegrationTheory("mkfs.ext4", "losetup", "mount", "qemu-img")]
    [InlineData(VolumeFormat.Raw, "needed 512 MiB")]
    [InlineData(VolumeFormat.Qcow2, "needs up to 512 MiB")]
    public void A_full_pool_names_the_path_and_what_was_needed(VolumeFormat format, string needed)
    {
        using var small = LoopMountedPool.SmallExt4(pool, SmallPoolBytes);
        var creator = new VolumeCreator(pool.Context());
        var plan = creator.Plan(new NewVolumeRequest { Name = "fat", Pool = small.Name, Size = ByteSize.FromMiB(512), Format = format, Preallocation = Preallocation.Full });

        var act = () => creator.Create(plan);

        act.Should().Throw<PoolFullException>().Where(e =>
            e.ErrorId == "PoolFull" && e.Message.Contains(small.Path) && e.Message.Contains(needed) && e.Message.Contains("free"));
        Directory.GetFileSystemEntries(small.Path).Should().OnlyContain(p => Path.GetFileName(p) == "lost+found", "a refused creation leaves nothing behind");
    }

    [IntegrationFact("mkfs.ext4", "losetup", "mount")]
    public void Creating_and_growing_past_the_free_space_warn_and_past_the_limit_refuse()
    {
        using var small = LoopMountedPool.SmallExt4(pool, SmallPoolBytes, maxOvercommit: 3);
        var context = pool.Context();
        var creator = new VolumeCreator(context);

        var within = creator.Plan(new NewVolumeRequest { Name = "a", Pool = small.Name, Size = ByteSize.FromMiB(128) });
        within.Warnings.Should().BeEmpty();
        var volume = creator.Create(within);

        var past = creator.Plan(new NewVolumeRequest { Name = "b", Pool = small.Name, Size = ByteSize.FromMiB(400) });
        past.Warnings.Should().ContainSingle().Which.Should().Contain($"pool '{small.Name}'").And.Contain("could still write");

        var tooMuch = () => creator.Plan(new NewVolumeRequest { Name = "c", Pool = small.Name, Size = ByteSize.FromMiB(800) });
        tooMuch.Should().Throw<OvercommitLimitExceededException>().Where(e => e.Message.Contains($"pool '{small.Name}'") && e.Message.Contains("limit of 3 "));

        var resizer = new VolumeResizer(context);
        resizer.Plan(ResizeRequest.To(volume, ByteSize.FromMiB(512))).Warnings.Should().ContainSingle().Which.Should().Contain("Growing a");
        var growTooFar = () => resizer.Plan(ResizeRequest.To(volume, ByteSize.FromMiB(1024)));
        growTooFar.Should().Throw<OvercommitLimitExceededException>();
        new VolumeCatalog(context).Get(volume.Path).SizeBytes.Should().Be(128L << 20, "a refused grow changes nothing");
    }

    [IntegrationFact("mkfs.ext4", "losetup", "mount")]
    public void Test_reports_the_writes_a_loop_device_lost_when_its_pool_filled()
    {
        using var small = LoopMountedPool.SmallExt4(pool, SmallPoolBytes);
        var context = pool.Context();
        var creator = new VolumeCreator(context);
        var volume = creator.Create(creator.Plan(new NewVolumeRequest { Name = "victim", Pool = small.Name, Size = ByteSize.FromGiB(1), FileSystem = FileSystemType.Ext4 }));
        var mountPoint = pool.Combine("victim-mount");
        var mounted = new VolumeMounter(context).Mount(volume, mountPoint, readOnly: false);
        new VolumeChecker(context).Test(mounted).Findings.Should().NotContain(f => f.Severity == FindingSeverity.Error, "nothing has failed yet");

        WriteUntilThePoolIsFull(Path.Combine(mountPoint, "big"));

        var result = new VolumeChecker(context).Test(new VolumeCatalog(context).Get(volume.Path));
        result.IsHealthy.Should().BeFalse();
        result.Findings.Should().Contain(f => f.Check == "loop device" && f.Severity == FindingSeverity.Error
            && f.Message.Contains(mounted.LoopDevice!) && f.Message.Contains("was lost") && f.Message.Contains($"Pool '{small.Name}'"));
        result.Findings.Should().Contain(f => f.Check == "pool" && f.Message.Contains("is full"));
        new VolumeMounter(context).Dismount(new VolumeCatalog(context).Get(volume.Path));
    }

    [IntegrationFact("qemu-img")]
    public void Of_a_raw_and_a_qcow2_volume_of_one_name_created_at_once_exactly_one_is_made()
    {
        var context = new StorageContext(pool.Pools, new ProcessRunner(), pool.Runtime, isRoot: true) { LockWait = TimeSpan.FromMinutes(2) };
        for (var round = 0; round < 4; round++)
        {
            var name = $"x{round}";
            var creator = new VolumeCreator(context);
            var plans = new[] { VolumeFormat.Raw, VolumeFormat.Qcow2 }
                .Select(f => creator.Plan(new NewVolumeRequest { Name = name, Size = ByteSize.FromMiB(64), Format = f })).ToList();
            using var start = new Barrier(plans.Count);

            var outcomes = plans.AsParallel().WithDegreeOfParallelism(plans.Count).Select(plan =>
            {
                start.SignalAndWait();
                try
                {
                    creator.Create(plan);
                    return (Exception?)null;
                }
                catch (ResourceExistsException e)
                {
                    return e;
                }
            }).ToList();

            outcomes.Count(o => o is null).Should().Be(1, "exactly one of the two creations succeeds");
            outcomes.OfType<ResourceExistsException>().Should().ContainSingle().Which.ErrorId.Should().Be("VolumeExists");
            PoolFiles().Count(f => Path.GetFileNameWithoutExtension(f) == name).Should().Be(1);
        }
    }

    private IEnumerable<string> PoolFiles() => Directory.GetFiles(pool.PoolPath);

    /// <summary>Random data through the page cache until the pool's filesystem is full, then a sync: the writer sees no error.</summary>
    private static void WriteUntilThePoolIsFull(string path)
    {
        var block = new byte[1 << 20];
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            for (var mib = 0; mib < 400; mib++)
            {
                Random.Shared.NextBytes(block);
                file.Write(block);
            }
            try
            {
                file.Flush(flushToDisk: true);
            }
            catch (IOException)
            {
                // Some kernels report the lost writes to fsync; what matters is what Test-SparseVolume says afterwards.
            }
        }
        new ProcessRunner().Run(new ToolCommand("sync"));
    }

    public void Dispose() => pool.Dispose();
}
