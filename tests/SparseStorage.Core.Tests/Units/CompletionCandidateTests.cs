using SparseStorage.Core.Completion;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

public sealed class CompletionCandidateTests : IDisposable
{
    private readonly TempDirectory scratch = new("sparse-complete");
    private readonly PoolService pools;

    public CompletionCandidateTests()
    {
        pools = new PoolService(new PoolConfiguration(scratch.Combine("pools.json")));
        foreach (var (pool, files) in new[] { ("alpha", new[] { "web01.img", "db.qcow2", ".hidden.img", "notes.txt" }), ("beta", new[] { "web02.img", "db.img" }) })
        {
            Directory.CreateDirectory(scratch.Combine(pool));
            foreach (var file in files)
                File.WriteAllBytes(scratch.Combine(pool, file), []);
            pools.Register(pool, scratch.Combine(pool));
        }
    }

    [Fact]
    public void Volume_names_come_from_image_files_of_every_pool_or_of_the_one_given()
    {
        CompletionCandidates.VolumeNames(pools, null).Should().BeEquivalentTo("web01", "db", "web02");
        CompletionCandidates.VolumeNames(pools, "BETA").Should().BeEquivalentTo("web02", "db");
        CompletionCandidates.VolumeNames(pools, "gamma").Should().BeEmpty();
        CompletionCandidates.PoolNames(pools).Should().Equal("alpha", "beta");
    }

    [Fact]
    public void Backed_up_volumes_are_the_folders_that_hold_a_set()
    {
        var destination = BackupTree();
        CompletionCandidates.BackedUpVolumeNames(destination).Should().BeEquivalentTo("web01");
        CompletionCandidates.BackedUpVolumeNames(scratch.Combine("absent")).Should().BeEmpty();
    }

    [Fact]
    public void Backup_set_paths_lead_from_the_destination_to_the_sets_keeping_the_typed_directory()
    {
        BackupTree();
        CompletionCandidates.BackupSetPaths("", scratch.Path).Should().Equal("backups");
        CompletionCandidates.BackupSetPaths("backups/", scratch.Path).Should().Equal("backups/web01");
        CompletionCandidates.BackupSetPaths("backups/web01/2025", scratch.Path)
            .Should().BeEquivalentTo("backups/web01/20250301T020000000Z-full", "backups/web01/20250302T020000000Z-incr");
        var absolute = scratch.Combine("backups", "web01") + "/";
        CompletionCandidates.BackupSetPaths(absolute, "/").Should().HaveCount(2).And.OnlyContain(p => p.StartsWith(absolute));
    }

    [Fact]
    public void Where_no_set_is_in_reach_every_subdirectory_is_offered_to_walk_on()
    {
        Directory.CreateDirectory(scratch.Combine("plain", "one"));
        Directory.CreateDirectory(scratch.Combine("plain", ".dot"));
        CompletionCandidates.BackupSetPaths("plain/", scratch.Path).Should().Equal("plain/one");
        CompletionCandidates.BackupSetPaths("missing/x", scratch.Path).Should().BeEmpty();
    }

    [Fact]
    public void Interfaces_are_the_entries_of_the_class_directory_except_loopback()
    {
        foreach (var name in new[] { "lo", "eth0", "veth-aoe" })
            Directory.CreateDirectory(scratch.Combine("net", name));
        CompletionCandidates.NetworkInterfaces(scratch.Combine("net")).Should().BeEquivalentTo("eth0", "veth-aoe");
        CompletionCandidates.NetworkInterfaces(scratch.Combine("none")).Should().BeEmpty();
    }

    /// <summary>backups/web01 with two sets and work in progress; backups/db01 with no set; other/ unrelated.</summary>
    private string BackupTree()
    {
        var destination = scratch.Combine("backups");
        foreach (var set in new[] { "20250301T020000000Z-full", "20250302T020000000Z-incr", ".20250303T020000000Z-incr.partial" })
            Directory.CreateDirectory(Path.Combine(destination, "web01", set));
        Directory.CreateDirectory(Path.Combine(destination, "db01", "scratch"));
        Directory.CreateDirectory(scratch.Combine("other"));
        return destination;
    }

    public void Dispose() => scratch.Dispose();
}
