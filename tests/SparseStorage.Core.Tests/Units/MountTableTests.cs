using SparseStorage.Core.Host;

namespace SparseStorage.Core.Tests.Units;

public class MountTableTests
{
    [Fact]
    public void Parses_a_mountinfo_line_with_optional_fields()
    {
        var entry = MountTable.Parse("36 35 7:3 / /srv/web01 rw,noatime shared:1 master:2 - ext4 /dev/loop3 rw,errors=continue");
        entry.Should().Be(new MountEntry("7:3", "/srv/web01", "ext4", "/dev/loop3", false));
    }

    [Fact]
    public void Unescapes_octal_sequences_and_reads_read_only()
    {
        var entry = MountTable.Parse(@"40 35 7:4 / /mnt/my\040disk\134x ro,relatime - xfs /dev/loop4 ro")!;
        entry.MountPoint.Should().Be(@"/mnt/my disk\x");
        entry.ReadOnly.Should().BeTrue();
    }

    [Fact]
    public void Ignores_malformed_lines() => MountTable.Parse("garbage").Should().BeNull();

    [Fact]
    public void Finds_the_innermost_mount_holding_a_path()
    {
        var mounts = new[]
        {
            new MountEntry("1:1", "/", "ext4", "/dev/vda", false),
            new MountEntry("1:2", "/srv", "xfs", "/dev/vdb", false),
            new MountEntry("1:3", "/srv2", "btrfs", "/dev/vdc", false),
        };
        MountTable.Containing(mounts, "/srv/pool/a.img")!.FileSystemType.Should().Be("xfs");
        MountTable.Containing(mounts, "/srv2x/a.img")!.FileSystemType.Should().Be("ext4");
        MountTable.IsUnder("/srv", "/srv").Should().BeTrue();
        MountTable.IsUnder("/srvx", "/srv").Should().BeFalse();
    }

    [Fact]
    public void Reads_the_live_table() =>
        MountTable.Read().Should().Contain(m => m.MountPoint == "/");
}
