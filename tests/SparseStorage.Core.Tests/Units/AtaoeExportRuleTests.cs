using SparseStorage.Core.Aoe;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

public sealed class AtaoeExportRuleTests
{
    [Theory]
    [InlineData("vblade 7 1 eth1 /srv/a.img", 7, 1, "eth1", "/srv/a.img", false)]
    [InlineData("/usr/sbin/vblade -r -b 32 7 254 eth1 /srv/a.img", 7, 254, "eth1", "/srv/a.img", true)]
    [InlineData("vblade -rds -b16 -m aa:bb:cc:dd:ee:ff,112233445566 65534 0 br0 /x", 65534, 0, "br0", "/x", true)]
    [InlineData("vblade -o 8 -l 100 -- 3 4 veth0 /dev/sdb", 3, 4, "veth0", "/dev/sdb", false)]
    public void Hand_started_vblade_command_lines_are_read_as_getopt_reads_them(string line, int shelf, int slot, string netif, string file, bool readOnly)
    {
        var parsed = VbladeCommandLine.TryParse(line.Split(' '))!;
        (parsed.Shelf, parsed.Slot, parsed.Interface, parsed.File, parsed.ReadOnly).Should().Be((shelf, slot, netif, file, readOnly));
    }

    [Theory]
    [InlineData("vblade 7 1 eth1")]
    [InlineData("vblade -x 7 1 eth1 /a")]
    [InlineData("vblade -b")]
    [InlineData("vbladed 7 1 eth1 /a")]
    [InlineData("sleep 7 1 eth1 /a")]
    [InlineData("vblade seven 1 eth1 /a")]
    public void Other_command_lines_are_not_vblade_exports(string line) =>
        VbladeCommandLine.TryParse(line.Split(' ')).Should().BeNull();

    [Fact]
    public void The_built_command_line_reads_back_to_the_same_export()
    {
        var built = new VbladeCommandLine(9, 3, "eth1", "/srv/pool/web.img") { ReadOnly = true, Direct = true, Sync = true, MacAllow = ["02:00:00:00:00:01", "02:00:00:00:00:02"] };
        built.Arguments().Should().Equal("-r", "-d", "-s", "-m", "02:00:00:00:00:01,02:00:00:00:00:02", "9", "3", "eth1", "/srv/pool/web.img");
        VbladeCommandLine.TryParse(["vblade", .. built.Arguments()]).Should().BeEquivalentTo(built);
    }

    [Fact]
    public void Vblade_starts_detached_with_its_output_and_pid_in_the_state_directory()
    {
        var plan = new AtaoeExportPlan(Request(Volume()), 4, new VbladeCommandLine(7, 4, "eth1", "/srv/pool/web.img") { ReadOnly = true }, "/usr/sbin/vblade", null, "/run/sparsestorage/aoe", "net:[4026531840]");
        plan.Vblade.ToString().Should().Be("/usr/sbin/vblade -r 7 4 eth1 /srv/pool/web.img", "-WhatIf shows the real vblade command line");
        plan.Launch.Arguments.Should().Equal(
            "--start", "--background", "--make-pidfile", "--pidfile", "/run/sparsestorage/aoe/e7.4-eth1-4026531840.pid",
            "--output", "/run/sparsestorage/aoe/e7.4-eth1-4026531840.log",
            "--chdir", "/", "--exec", "/usr/sbin/vblade", "--", "-r", "7", "4", "eth1", "/srv/pool/web.img");
        plan.Steps.Should().Equal(plan.Launch.ToString(), "Wait until vblade serves e7.4 on eth1, then record the export");
        plan.Describe().Should().StartWith("Export as AoE target e7.4 on eth1: start-stop-daemon --start ");
    }

    [Theory]
    [InlineData("LUKS1 aes-xts-plain64", VolumeFormat.Luks, "VolumeEncrypted")]
    [InlineData("qcow2 LUKS", VolumeFormat.Qcow2, "VolumeEncrypted")]
    [InlineData("None", VolumeFormat.Qcow2, "VolumeFormatNotExportable")]
    public void Encrypted_and_qcow2_volumes_are_refused_even_read_only(string encryption, VolumeFormat format, string errorId) =>
        FluentActions.Invoking(() => AtaoeExportRules.RequireExportable(Volume(encryption: encryption, format: format), readOnly: true))
            .Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be(errorId);

    [Fact]
    public void A_volume_in_use_here_is_exported_only_read_only()
    {
        var mounted = Volume(mountPoint: "/srv/web");
        var attached = Volume(loop: "/dev/loop3");
        FluentActions.Invoking(() => AtaoeExportRules.RequireExportable(mounted, readOnly: false)).Should().Throw<VolumeInUseException>().WithMessage("*mounted at /srv/web*-ReadOnly*");
        FluentActions.Invoking(() => AtaoeExportRules.RequireExportable(attached, readOnly: false)).Should().Throw<VolumeInUseException>().WithMessage("*attached to /dev/loop3*");
        AtaoeExportRules.RequireExportable(mounted, readOnly: true);
        AtaoeExportRules.RequireExportable(Volume(), readOnly: false);
    }

    [Fact]
    public void Slot_takes_numbers_and_Auto()
    {
        AtaoeExportRequest.ParseSlot("Auto").Should().BeNull();
        AtaoeExportRequest.ParseSlot("auto").Should().BeNull();
        AtaoeExportRequest.ParseSlot("17").Should().Be(17);
        FluentActions.Invoking(() => AtaoeExportRequest.ParseSlot("-1")).Should().Throw<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("InvalidAoeSlot");
    }

    [Fact]
    public void A_record_is_running_dead_or_stale_by_its_process_and_boot()
    {
        using var directory = new TempDirectory("aoe-records");
        var self = Environment.ProcessId;
        var running = Record(self, VbladeProcesses.StartTicks(self)!.Value, VbladeProcesses.BootId());
        running.Save(directory.Path);
        AtaoeExportRecord.ReadAll(directory.Path).Single().Should().BeEquivalentTo(running);
        File.GetUnixFileMode(AtaoeExportRecord.RecordPath(directory.Path, running.Key)).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);

        running.StateNow().Should().Be(AtaoeExportState.Running);
        (running with { ProcessId = int.MaxValue - 1 }).StateNow().Should().Be(AtaoeExportState.Dead);
        (running with { ProcessStartTicks = running.ProcessStartTicks + 1 }).StateNow().Should().Be(AtaoeExportState.Stale, "the pid now names another process");
        (running with { BootId = Guid.NewGuid().ToString() }).StateNow().Should().Be(AtaoeExportState.Stale, "the record was written before a reboot");
        running.Delete(directory.Path);
        AtaoeExportRecord.ReadAll(directory.Path).Should().BeEmpty();
    }

    [Fact]
    public void The_lowest_free_slot_skips_records_and_hand_started_vblades_of_that_shelf_interface_and_namespace()
    {
        var records = new[] { Record(1, 1, "boot") with { Slot = 0 }, Record(1, 1, "boot") with { Slot = 1, Interface = "eth2" } };
        var processes = new[]
        {
            new RunningVblade(10, new VbladeCommandLine(7, 1, "eth1", "/a"), "net:[1]"),
            new RunningVblade(11, new VbladeCommandLine(7, 2, "eth1", "/a"), "net:[2]"),
            new RunningVblade(12, new VbladeCommandLine(8, 2, "eth1", "/a"), "net:[1]"),
        };
        new AddressOccupancy(records, processes, 7, "eth1", "net:[1]").LowestFreeSlot().Should().Be(2);
        var taken = FluentActions.Invoking(() => new AddressOccupancy(records, processes, 7, "eth1", "net:[1]").RequireFree(1, restart: false))
            .Should().Throw<ResourceExistsException>().Which;
        taken.Message.Should().Contain("pid 10").And.Contain("did not start");
    }

    private static AtaoeExportRecord Record(int pid, long ticks, string boot) => new()
    {
        Volume = "web", VolumePath = "/srv/pool/web.img", Shelf = 7, Slot = 1, Interface = "eth1", NetworkNamespace = "net:[1]",
        ProcessId = pid, ProcessStartTicks = ticks, BootId = boot, StartedUtc = new DateTime(2026, 11, 21, 6, 0, 0, DateTimeKind.Utc),
        MacAllow = ["02:00:00:00:00:01"], Command = ["/usr/sbin/vblade", "7", "1", "eth1", "/srv/pool/web.img"],
    };

    private static AtaoeExportRequest Request(SparseVolume volume) => new() { Volume = volume, Shelf = 7, Interface = "eth1" };

    private static SparseVolume Volume(string encryption = "None", VolumeFormat format = VolumeFormat.Raw, string? mountPoint = null, string? loop = null) => new()
    {
        Name = "web", Path = "/srv/pool/web.img", Encryption = encryption, Format = format, MountPoint = mountPoint,
        IsMounted = mountPoint is not null, LoopDevice = loop ?? (mountPoint is null ? null : "/dev/loop0"), IsAttached = loop is not null || mountPoint is not null,
    };
}
