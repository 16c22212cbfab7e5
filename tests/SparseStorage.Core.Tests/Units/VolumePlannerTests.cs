using System.Collections;
using SparseStorage.Core.Configuration;

namespace SparseStorage.Core.Tests.Units;

/// <summary>The decisions of the SparseVolume DSC resource: what differs, which steps run in which order, and what is refused.</summary>
public sealed class VolumePlannerTests
{
    private const long MiB = 1 << 20;
    private const long GiB = 1L << 30;

    private static VolumeDesiredState Desired(long size = GiB) => new()
    {
        Name = "web01",
        Pool = "tenants",
        Size = new ByteSize(size),
        Format = VolumeFormat.Raw,
        FileSystem = FileSystemType.Ext4,
    };

    private static SparseVolume Volume(long size = GiB, FileSystemType fileSystem = FileSystemType.Ext4, string? mountPoint = null, string? label = null, bool broken = false) => new()
    {
        Name = "web01",
        Path = "/srv/pools/tenants/web01.img",
        Pool = "tenants",
        Format = VolumeFormat.Raw,
        SizeBytes = size,
        FileSystem = fileSystem,
        MountPoint = mountPoint,
        IsMounted = mountPoint is not null,
        IsAttached = mountPoint is not null,
        Label = label,
        IsBroken = broken,
    };

    private static SparseVolume Encrypted(long size = GiB, bool unlocked = false) => new()
    {
        Name = "web01",
        Path = "/srv/pools/tenants/web01.img",
        Pool = "tenants",
        Format = VolumeFormat.Luks,
        SizeBytes = size,
        Encryption = "LUKS1 aes-xts-plain64",
        IsUnlocked = unlocked,
        FileSystem = unlocked ? FileSystemType.Ext4 : FileSystemType.None,
    };

    private static VolumeStepKind[] Kinds(VolumePlan plan) => plan.Changes.Select(s => s.Kind).ToArray();

    [Fact]
    public void A_missing_volume_is_created_then_encrypted_then_mounted()
    {
        var desired = Desired() with { Encrypted = true, KeyFile = "/etc/keys/web01.key", MountPoint = "/srv/web01" };

        var plan = VolumePlanner.Plan(desired, null);

        Kinds(plan).Should().Equal(VolumeStepKind.Create, VolumeStepKind.Protect, VolumeStepKind.Mount);
        plan.Changes[0].SizeBytes.Should().Be(GiB);
        plan.Changes[2].MountPoint.Should().Be("/srv/web01");
        plan.Changes[2].UsesKeyFile.Should().BeTrue();
        plan.IsInDesiredState.Should().BeFalse();
    }

    [Fact]
    public void A_missing_plain_volume_without_mount_point_is_only_created()
    {
        var plan = VolumePlanner.Plan(Desired(), null);

        Kinds(plan).Should().Equal(VolumeStepKind.Create);
        plan.Differences.Should().ContainSingle().Which.Should().Contain("does not exist");
    }

    [Fact]
    public void A_matching_volume_is_in_desired_state_with_no_steps()
    {
        var plan = VolumePlanner.Plan(Desired() with { MountPoint = "/srv/web01" }, Volume(mountPoint: "/srv/web01"));

        plan.IsInDesiredState.Should().BeTrue();
        plan.Changes.Should().BeEmpty();
        plan.Differences.Should().BeEmpty();
    }

    [Theory]
    [InlineData(GiB, true)]
    [InlineData(GiB + 512, true)]
    [InlineData(GiB + MiB - 1, true)]
    [InlineData(GiB + MiB, false)]
    [InlineData(GiB - 512, false)]
    public void Size_matches_from_the_desired_size_up_to_one_MiB_more(long observed, bool matches)
    {
        VolumePlanner.SizeMatches(observed, GiB).Should().Be(matches);
        VolumePlanner.Plan(Desired(), Volume(size: observed)).IsInDesiredState.Should().Be(matches);
    }

    [Fact]
    public void A_smaller_volume_is_grown_in_place_even_while_mounted()
    {
        var plan = VolumePlanner.Plan(Desired(2 * GiB) with { MountPoint = "/srv/web01" }, Volume(mountPoint: "/srv/web01"));

        Kinds(plan).Should().Equal(VolumeStepKind.Grow);
        plan.Changes[0].SizeBytes.Should().Be(2 * GiB);
        plan.Differences.Should().ContainSingle().Which.Should().StartWith("Size:");
    }

    [Fact]
    public void A_larger_volume_is_a_conflict_without_AllowShrink_and_nothing_is_planned()
    {
        var plan = VolumePlanner.Plan(Desired(GiB), Volume(size: 2 * GiB));

        plan.Changes.Should().BeEmpty();
        plan.Conflicts.Should().ContainSingle().Which.Should().Contain("AllowShrink");
        var act = plan.RequireNoConflicts;
        act.Should().Throw<StorageOperationException>()
            .Where(e => e.ErrorId == "DesiredStateConflict" && e.Message.Contains("tenants/web01") && e.Message.Contains("nothing was changed"));
    }

    [Fact]
    public void With_AllowShrink_an_unmounted_volume_is_shrunk()
    {
        var plan = VolumePlanner.Plan(Desired(GiB) with { AllowShrink = true }, Volume(size: 2 * GiB));

        Kinds(plan).Should().Equal(VolumeStepKind.Shrink);
        plan.Changes[0].SizeBytes.Should().Be(GiB);
        plan.Conflicts.Should().BeEmpty();
    }

    [Fact]
    public void A_mounted_ext4_volume_is_dismounted_shrunk_and_mounted_again_where_it_was()
    {
        var plan = VolumePlanner.Plan(Desired(GiB) with { AllowShrink = true }, Volume(size: 2 * GiB, mountPoint: "/srv/web01"));

        Kinds(plan).Should().Equal(VolumeStepKind.Dismount, VolumeStepKind.Shrink, VolumeStepKind.Mount);
        plan.Changes[2].MountPoint.Should().Be("/srv/web01");
    }

    [Fact]
    public void A_mounted_btrfs_volume_is_shrunk_online()
    {
        var desired = Desired(GiB) with { AllowShrink = true, FileSystem = FileSystemType.Btrfs };

        var plan = VolumePlanner.Plan(desired, Volume(size: 2 * GiB, fileSystem: FileSystemType.Btrfs, mountPoint: "/srv/web01"));

        Kinds(plan).Should().Equal(VolumeStepKind.Shrink);
    }

    [Fact]
    public void Xfs_is_never_shrunk_even_with_AllowShrink()
    {
        var desired = Desired(GiB) with { AllowShrink = true, FileSystem = FileSystemType.Xfs };

        var plan = VolumePlanner.Plan(desired, Volume(size: 2 * GiB, fileSystem: FileSystemType.Xfs));

        plan.Conflicts.Should().ContainSingle().Which.Should().Contain("xfs");
        plan.Changes.Should().BeEmpty();
    }

    [Theory]
    [InlineData(FileSystemType.Xfs, "Xfs")]
    [InlineData(FileSystemType.None, "no filesystem")]
    [InlineData(FileSystemType.Unknown, "does not recognise")]
    public void A_different_filesystem_is_never_reformatted(FileSystemType observed, string named)
    {
        var plan = VolumePlanner.Plan(Desired(), Volume(fileSystem: observed));

        plan.Changes.Should().BeEmpty();
        plan.Conflicts.Should().ContainSingle().Which.Should().Contain(named).And.Contain("never reformats");
        plan.IsInDesiredState.Should().BeFalse();
    }

    [Fact]
    public void Unmanaged_properties_are_not_compared()
    {
        var desired = Desired() with { Format = null, FileSystem = null };

        VolumePlanner.Plan(desired, Volume(fileSystem: FileSystemType.Btrfs, mountPoint: "/mnt/elsewhere")).IsInDesiredState.Should().BeTrue();
    }

    [Fact]
    public void Another_format_is_a_conflict()
    {
        var plan = VolumePlanner.Plan(Desired() with { Format = VolumeFormat.Qcow2 }, Volume());

        plan.Conflicts.Should().ContainSingle().Which.Should().Contain("Raw, not Qcow2");
    }

    [Fact]
    public void A_different_label_is_a_conflict()
    {
        var plan = VolumePlanner.Plan(Desired() with { Label = "data" }, Volume(label: "old"));

        plan.Conflicts.Should().ContainSingle().Which.Should().Contain("'old', not 'data'");
    }

    [Fact]
    public void An_unmounted_volume_is_mounted()
    {
        var plan = VolumePlanner.Plan(Desired() with { MountPoint = "/srv/web01" }, Volume());

        Kinds(plan).Should().Equal(VolumeStepKind.Mount);
        plan.Changes[0].UsesKeyFile.Should().BeFalse();
    }

    [Fact]
    public void A_volume_mounted_elsewhere_is_dismounted_and_mounted_where_asked()
    {
        var plan = VolumePlanner.Plan(Desired() with { MountPoint = "/srv/web01" }, Volume(mountPoint: "/mnt/old"));

        Kinds(plan).Should().Equal(VolumeStepKind.Dismount, VolumeStepKind.Mount);
        plan.Changes[1].MountPoint.Should().Be("/srv/web01");
        plan.Differences.Should().ContainSingle().Which.Should().Contain("/mnt/old");
    }

    [Fact]
    public void A_trailing_slash_does_not_make_a_mount_point_differ()
    {
        VolumePlanner.Plan(Desired() with { MountPoint = "/srv/web01/" }, Volume(mountPoint: "/srv/web01")).IsInDesiredState.Should().BeTrue();
    }

    [Fact]
    public void A_plain_volume_asked_to_be_encrypted_is_protected_after_a_grow()
    {
        var desired = Desired(2 * GiB) with { Encrypted = true, KeyFile = "/etc/keys/web01.key" };

        var plan = VolumePlanner.Plan(desired, Volume());

        Kinds(plan).Should().Equal(VolumeStepKind.Grow, VolumeStepKind.Protect);
        plan.Changes[1].UsesKeyFile.Should().BeTrue();
    }

    [Fact]
    public void A_mounted_plain_volume_is_dismounted_protected_and_mounted_again_with_the_key()
    {
        var desired = Desired() with { Encrypted = true, KeyFile = "/etc/keys/web01.key", MountPoint = "/srv/web01" };

        var plan = VolumePlanner.Plan(desired, Volume(mountPoint: "/srv/web01"));

        Kinds(plan).Should().Equal(VolumeStepKind.Dismount, VolumeStepKind.Protect, VolumeStepKind.Mount);
        plan.Changes[2].UsesKeyFile.Should().BeTrue();
    }

    [Fact]
    public void A_locked_encrypted_volume_matches_without_its_hidden_filesystem_being_compared()
    {
        var desired = Desired() with { Encrypted = true, KeyFile = "/etc/keys/web01.key" };

        VolumePlanner.Plan(desired, Encrypted()).IsInDesiredState.Should().BeTrue();
    }

    [Fact]
    public void An_unlocked_encrypted_volume_has_its_filesystem_compared()
    {
        var desired = Desired() with { Encrypted = true, KeyFile = "/etc/keys/web01.key", FileSystem = FileSystemType.Xfs };

        VolumePlanner.Plan(desired, Encrypted(unlocked: true)).Conflicts.Should().ContainSingle().Which.Should().Contain("Ext4, not Xfs");
    }

    [Fact]
    public void A_locked_encrypted_volume_is_mounted_with_the_key_file()
    {
        var desired = Desired() with { Encrypted = true, KeyFile = "/etc/keys/web01.key", MountPoint = "/srv/web01" };

        var plan = VolumePlanner.Plan(desired, Encrypted());

        Kinds(plan).Should().Equal(VolumeStepKind.Mount);
        plan.Changes[0].UsesKeyFile.Should().BeTrue();
    }

    [Fact]
    public void An_encrypted_volume_is_never_decrypted()
    {
        var plan = VolumePlanner.Plan(Desired(), Encrypted());

        plan.Conflicts.Should().ContainSingle().Which.Should().Contain("Unprotect-Volume");
    }

    [Fact]
    public void An_encrypted_volume_of_another_size_is_a_conflict_since_it_cannot_be_resized()
    {
        var desired = Desired(2 * GiB) with { Encrypted = true, KeyFile = "/etc/keys/web01.key" };

        VolumePlanner.Plan(desired, Encrypted()).Conflicts.Should().ContainSingle().Which.Should().Contain("cannot be resized");
    }

    [Fact]
    public void A_broken_volume_is_a_conflict_naming_the_cmdlet_that_repairs_it()
    {
        var plan = VolumePlanner.Plan(Desired(), Volume(broken: true));

        plan.Conflicts.Should().ContainSingle().Which.Should().Contain("Dismount-SparseVolume");
    }

    [Fact]
    public void Every_conflict_is_reported_at_once()
    {
        var plan = VolumePlanner.Plan(Desired(GiB) with { Format = VolumeFormat.Qcow2 }, Volume(size: 2 * GiB, fileSystem: FileSystemType.Btrfs));

        plan.Conflicts.Should().HaveCount(3);
    }

    [Fact]
    public void An_absent_volume_that_exists_is_dismounted_then_removed()
    {
        var plan = VolumePlanner.Plan(Desired() with { Ensure = Ensure.Absent }, Volume(mountPoint: "/srv/web01"));

        Kinds(plan).Should().Equal(VolumeStepKind.Dismount, VolumeStepKind.Remove);
    }

    [Fact]
    public void An_absent_unused_volume_is_removed_without_a_dismount()
    {
        Kinds(VolumePlanner.Plan(Desired() with { Ensure = Ensure.Absent }, Volume())).Should().Equal(VolumeStepKind.Remove);
    }

    [Fact]
    public void An_absent_volume_that_does_not_exist_is_in_desired_state()
    {
        VolumePlanner.Plan(Desired() with { Ensure = Ensure.Absent, Size = null }, null).IsInDesiredState.Should().BeTrue();
    }

    [Fact]
    public void Step_descriptions_never_contain_the_key_file()
    {
        var desired = Desired() with { Encrypted = true, KeyFile = "/etc/keys/secret-web01.key", MountPoint = "/srv/web01" };

        var plan = VolumePlanner.Plan(desired, Volume(mountPoint: "/srv/web01"));

        plan.Changes.Should().NotBeEmpty();
        plan.Changes.Select(s => s.Description).Concat(plan.Differences).Should().NotContain(text => text.Contains("secret-web01"));
        plan.Describe().Should().NotContain("secret-web01");
    }

    [Fact]
    public void Properties_from_a_hashtable_are_read_case_insensitively()
    {
        var desired = VolumeDesiredState.FromProperties(new Hashtable
        {
            ["name"] = "web01", ["POOL"] = "tenants", ["Size"] = "2GiB", ["Format"] = "qcow2", ["FileSystem"] = "xfs",
            ["MountPoint"] = "/srv/web01", ["Encrypted"] = true, ["KeyFile"] = "/etc/keys/web01.key", ["AllowShrink"] = false,
            ["Label"] = "", ["Ensure"] = "Present",
        });

        desired.Should().BeEquivalentTo(new VolumeDesiredState
        {
            Name = "web01", Pool = "tenants", Size = ByteSize.FromGiB(2), Format = VolumeFormat.Qcow2, FileSystem = FileSystemType.Xfs,
            MountPoint = "/srv/web01", Encrypted = true, KeyFile = "/etc/keys/web01.key",
        });
    }

    [Fact]
    public void A_size_given_as_a_number_of_bytes_is_accepted()
    {
        VolumeDesiredState.FromProperties(new Hashtable { ["Name"] = "a", ["Pool"] = "p", ["Size"] = 10737418240L }).Size
            .Should().Be(ByteSize.FromGiB(10));
    }

    [Theory]
    [InlineData("Size", null, "DesiredStatePropertyMissing")]
    [InlineData("Name", "web*", "InvalidVolumeName")]
    [InlineData("Format", "Luks", "DesiredStatePropertyInvalid")]
    [InlineData("FileSystem", "Unknown", "DesiredStatePropertyInvalid")]
    [InlineData("Ensure", "Maybe", "DesiredStatePropertyInvalid")]
    [InlineData("MountPoint", "srv/web01", "DesiredStatePathNotAbsolute")]
    [InlineData("Size", "-1GB", "InvalidSize")]
    public void Invalid_properties_are_refused_naming_the_problem(string key, string? value, string errorId)
    {
        var properties = new Hashtable { ["Name"] = "web01", ["Pool"] = "tenants", ["Size"] = "1GB", ["FileSystem"] = "Ext4" };
        properties[key] = value;

        var act = () => VolumeDesiredState.FromProperties(properties);

        act.Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == errorId);
    }

    [Fact]
    public void Encryption_without_a_key_file_is_refused_since_nothing_may_prompt()
    {
        var act = () => VolumeDesiredState.FromProperties(new Hashtable { ["Name"] = "a", ["Pool"] = "p", ["Size"] = "1GB", ["Encrypted"] = true });

        act.Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == "KeyFileRequired");
    }

    [Fact]
    public void A_mount_point_for_a_volume_without_filesystem_is_refused()
    {
        var act = () => VolumeDesiredState.FromProperties(new Hashtable { ["Name"] = "a", ["Pool"] = "p", ["Size"] = "1GB", ["FileSystem"] = "None", ["MountPoint"] = "/mnt/a" });

        act.Should().Throw<InvalidStorageArgumentException>().Where(e => e.ErrorId == "MountPointWithoutFileSystem");
    }

    [Fact]
    public void An_absent_volume_needs_no_size()
    {
        VolumeDesiredState.FromProperties(new Hashtable { ["Name"] = "a", ["Pool"] = "p", ["Ensure"] = "Absent" }).Ensure.Should().Be(Ensure.Absent);
    }
}
