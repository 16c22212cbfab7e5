using SparseStorage.Core.Backups;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>Incremental backups on an xfs pool with reflink: a kept clone of the image tells which blocks moved, so only those are read.</summary>
public sealed class ChangeTrackingTests : IDisposable
{
    private const long MiB = 1 << 20;
    private readonly TestPool pool = new();
    private LoopMountedPool? xfs;
    private readonly StorageContext context;
    private readonly VolumeBackupService backups;
    private readonly string destination;

    public ChangeTrackingTests()
    {
        context = pool.Context();
        backups = new VolumeBackupService(context);
        destination = pool.Combine("backups");
        Directory.CreateDirectory(destination);
    }

    private LoopMountedPool Xfs => xfs ??= LoopMountedPool.XfsReflink(pool);

    [IntegrationFact("losetup", "mount", "mkfs.xfs", "cmp")]
    public void Incrementals_read_only_what_moved_and_every_point_restores_byte_identical()
    {
        var volume = Scattered("tracked", chunks: 64);
        var full = Backup(volume);
        full.ChangeDetection.Should().Be(ChangeDetection.ReadAll, "a first backup has nothing to compare with");
        full.ReadBytes.Should().BeCloseTo(volume.AllocatedBytes, 64 * 1024);
        References(volume).Should().ContainSingle("the full set keeps one clone for the next incremental");
        var states = new List<(VolumeBackup Set, string Copy)> { (full, Keep(volume, "0")) };

        ScatteredImage.Scribble(volume.Path, chunks: 4, seed: 1);
        var second = Backup(volume);
        states.Add((second, Keep(volume, "1")));

        RewriteSameBytes(volume.Path, DataOffsets(volume.Path).First());
        ScatteredImage.Scribble(volume.Path, chunks: 2, seed: 2);
        var third = Backup(volume);
        states.Add((third, Keep(volume, "2")));

        second.ChangeDetection.Should().Be(ChangeDetection.BlockMap);
        second.ReadBytes.Should().BeInRange(1 * MiB, 4 * MiB, "only the 4 rewritten MiB moved on disk");
        second.StoredBytes.Should().Be(second.ReadBytes, "every block read had new random bytes");
        third.ChangeDetection.Should().Be(ChangeDetection.BlockMap);
        third.ReadBytes.Should().BeInRange(1 * MiB, 3 * MiB, "2 scribbled MiB and one rewritten MiB moved");
        third.StoredBytes.Should().BeLessThanOrEqualTo(2 * MiB, "a block rewritten with the same bytes is read, hashed and found unchanged");
        References(volume).Should().ContainSingle("each set's clone replaces the one before").Which.Should().EndWith(third.Name + ".ref");
        foreach (var (set, copy) in states)
            RestoresTo(set, copy);
    }

    [IntegrationFact("losetup", "mount", "mkfs.xfs", "cmp")]
    public void A_reference_that_was_written_or_removed_is_not_trusted()
    {
        var volume = Scattered("touched", chunks: 32);
        Backup(volume);
        var reference = References(volume).Single();
        using (var file = new FileStream(reference, FileMode.Open, FileAccess.Write))
            file.Write(new byte[4096]); // the kept clone no longer matches what the full set read
        ScatteredImage.Scribble(volume.Path, chunks: 2, seed: 3);

        var incremental = Backup(volume);

        incremental.ChangeDetection.Should().Be(ChangeDetection.ReadAll);
        incremental.ReadBytes.Should().BeCloseTo(Fresh(volume).AllocatedBytes, 64 * 1024, "without a trusted reference every block is read");
        incremental.StoredBytes.Should().BeLessThanOrEqualTo(2 * MiB);
        RestoresTo(incremental, Keep(volume, "touched"));

        File.Delete(References(volume).Single());
        ScatteredImage.Scribble(volume.Path, chunks: 1, seed: 4);
        Backup(volume).ChangeDetection.Should().Be(ChangeDetection.ReadAll);
    }

    [IntegrationFact("losetup", "mount", "mkfs.xfs")]
    public void Removing_sets_or_the_volume_removes_their_references()
    {
        var volume = Scattered("cleanup", chunks: 8);
        Backup(volume);
        var newest = Backup(volume);
        References(volume).Should().ContainSingle();

        var backupSets = new BackupSetService(context);
        backupSets.Apply(backupSets.Plan(new RemoveBackupRequest(newest.BackupPath)));
        References(volume).Should().BeEmpty("the clone belonged to the removed set");
        Backup(volume).ChangeDetection.Should().Be(ChangeDetection.ReadAll, "the remaining full set's clone was replaced before");

        var other = pool.Combine("other-destination");
        Directory.CreateDirectory(other);
        backups.Apply(backups.Plan(Fresh(volume), new BackupRequest { Destination = other }));
        References(volume).Should().HaveCount(2, "each destination keeps the clone of its own newest set");

        new VolumeRemover(context).Remove(Fresh(volume), wipe: false);
        Directory.Exists(Path.Combine(Xfs.Path, ChangeReferences.FolderName)).Should().BeFalse("removing a volume removes its clones");
    }

    [IntegrationFact]
    public void On_a_pool_without_shared_blocks_no_reference_is_kept()
    {
        var path = Path.Combine(pool.PoolPath, "plain.img");
        ScatteredImage.Write(path, 256 * MiB, chunks: 8);
        var volume = new VolumeCatalog(context).Get(path);
        Backup(volume);
        ScatteredImage.Scribble(path, chunks: 1);

        var incremental = Backup(volume);

        incremental.ChangeDetection.Should().Be(ChangeDetection.ReadAll);
        Directory.Exists(ChangeReferences.FolderOf(path)).Should().BeFalse();
    }

    private VolumeBackup Backup(SparseVolume volume) =>
        backups.Apply(backups.Plan(Fresh(volume), new BackupRequest { Destination = destination }));

    private SparseVolume Scattered(string name, int chunks)
    {
        var path = Path.Combine(Xfs.Path, name + ".img");
        ScatteredImage.Write(path, 1L << 30, chunks);
        return new VolumeCatalog(context).Get(path);
    }

    private SparseVolume Fresh(SparseVolume volume) => new VolumeCatalog(context).Get(volume.Path);

    private static List<string> References(SparseVolume volume)
    {
        var folder = ChangeReferences.FolderOf(volume.Path);
        return Directory.Exists(folder) ? Directory.GetFiles(folder).ToList() : [];
    }

    private string Keep(SparseVolume volume, string label)
    {
        var copy = pool.Combine($"{volume.Name}-state{label}.img");
        new ProcessRunner().RunChecked(new ToolCommand("cp", "--sparse=always", volume.Path, copy));
        return copy;
    }

    private void RestoresTo(VolumeBackup set, string expected)
    {
        var restorer = new BackupRestorer(context);
        var restored = restorer.Apply(restorer.Plan(set.BackupPath, $"restored-{set.Name}.img"));
        new ProcessRunner().Run(new ToolCommand("cmp", expected, restored.Path)).ExitCode.Should().Be(0, $"restoring {set.Name} gives the image as it was");
    }

    private static IEnumerable<long> DataOffsets(string path)
    {
        using var file = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        return SparseFile.DataExtents(file, RandomAccess.GetLength(file)).Select(e => e.Offset).ToList();
    }

    private static void RewriteSameBytes(string path, long offset)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var block = new byte[MiB];
        file.Position = offset;
        file.ReadExactly(block);
        file.Position = offset;
        file.Write(block);
        file.Flush(flushToDisk: true);
    }

    public void Dispose()
    {
        xfs?.Dispose();
        pool.Dispose();
    }
}
