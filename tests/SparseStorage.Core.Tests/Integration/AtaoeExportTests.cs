using System.Diagnostics;
using SparseStorage.Core.Aoe;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Exports through real vblade in node namespaces, seen from a supervisor namespace through a bridge with the
/// userspace client: discovery, sizes, bytes read and written, read-only refusal, stop, a killed vblade, restart.
/// </summary>
public sealed class AtaoeExportTests : IDisposable
{
    private static readonly TimeSpan Listen = TimeSpan.FromMilliseconds(600);
    private readonly TestPool pool = new();
    private readonly AoeLab lab = new(nodes: 2);
    private readonly StorageContext context;
    private readonly AtaoeExportService service;

    public AtaoeExportTests()
    {
        context = pool.Context();
        service = new AtaoeExportService(context);
    }

    [IntegrationFact("vblade", "ip", "start-stop-daemon")]
    public void Exports_serve_their_images_to_the_supervisor_and_leave_discovery_when_stopped()
    {
        var (first, firstBytes) = Volume("first", 4 << 20);
        var (second, secondBytes) = Volume("second", 6 << 20);
        var (archive, archiveBytes) = Volume("archive", 2 << 20);
        var a = InNode(1, () => service.Export(Request(first, 7, null, 1)));
        var b = InNode(1, () => service.Export(Request(archive, 7, null, 1) with { ReadOnly = true }));
        var c = InNode(2, () => service.Export(Request(second, 8, 3, 2)));

        (a.Slot, b.Slot, c.Slot).Should().Be((0, 1, 3), "-Slot Auto takes the lowest free slot of the shelf");
        service.List().Select(e => (e.Target, e.State, e.Volume)).Should().Equal(
            ("e7.0", AtaoeExportState.Running, "first"), ("e7.1", AtaoeExportState.Running, "archive"), ("e8.3", AtaoeExportState.Running, "second"));
        AssertDetachedAndPrivate(a);

        var targets = Discover();
        targets.Select(t => (t.ToString(), t.SizeBytes)).Should().Equal(("e7.0", 4L << 20), ("e7.1", 2L << 20), ("e8.3", 6L << 20));
        targets[0].MacAddress.Should().Be(targets[1].MacAddress).And.NotBe(targets[2].MacAddress, "node 1 exports two targets, node 2 one");
        targets.Should().OnlyContain(t => t.BufferCount == 16 && t.MaxSectorsPerRequest == 2 && t.FirmwareVersion.StartsWith('V'));

        var patch = Enumerable.Repeat((byte)0x5A, 9 * 512).ToArray();
        var (readFirst, readSecond, refusal) = lab.InSupervisor(() =>
        {
            using var client = AoeClient.Open(lab.SupervisorInterface);
            var one = new byte[firstBytes.Length];
            client.Connect(targets[0]).Read(0, one);
            var two = new byte[secondBytes.Length];
            client.Connect(targets[2]).Read(0, two);
            client.Connect(targets[2]).Write(1001, patch);
            var refused = FluentActions.Invoking(() => client.Connect(targets[1]).Write(0, patch)).Should().Throw<AoeTargetException>().Which;
            return (one, two, refused);
        });
        readFirst.Should().Equal(firstBytes);
        readSecond.Should().Equal(secondBytes);
        File.ReadAllBytes(second.Path).AsSpan(1001 * 512, patch.Length).ToArray().Should().Equal(patch);
        refusal.ErrorId.Should().Be("AtaCommandFailed");
        File.ReadAllBytes(archive.Path).Should().Equal(archiveBytes, "a read-only export refuses writes");
        var removeExported = () => new VolumeRemover(context).Remove(archive, wipe: false);
        removeExported.Should().Throw<VolumeInUseException>().Which.Message.Should().Contain("e7.1").And.Contain("Stop-AtaoeExport");
        File.Exists(archive.Path).Should().BeTrue();

        InNode(1, () => service.Stop(7, 0, lab.NodeInterface(1)));
        VbladeProcesses.IsAlive(a.ProcessId).Should().BeFalse();
        Directory.GetFiles(context.Runtime.AoeExports, "e7.0-*").Should().BeEmpty("stopping clears the record, pid file and log");
        Discover().Select(t => t.ToString()).Should().Equal("e7.1", "e8.3");
        NothingLeftAfterStopping();
    }

    [IntegrationFact("vblade", "ip", "start-stop-daemon")]
    public void A_killed_vblade_shows_as_dead_is_not_restarted_unless_asked_and_a_stopped_one_leaves_nothing()
    {
        var (volume, bytes) = Volume("node", 1 << 20);
        var export = InNode(2, () => service.Export(Request(volume, 5, 5, 2)));
        Process.GetProcessById(export.ProcessId).Kill();
        WaitUntil(() => !VbladeProcesses.IsAlive(export.ProcessId));

        service.List().Single().State.Should().Be(AtaoeExportState.Dead);
        Discover().Should().BeEmpty();
        var dead = FluentActions.Invoking(() => InNode(2, () => service.Export(Request(volume, 5, 5, 2)))).Should().Throw<ResourceExistsException>().Which;
        dead.ErrorId.Should().Be("AoeExportDead");
        dead.Message.Should().Contain("-Restart");

        var restarted = InNode(2, () => service.Export(Request(volume, 5, 5, 2) with { Restart = true }));
        restarted.ProcessId.Should().NotBe(export.ProcessId);
        service.List().Single().State.Should().Be(AtaoeExportState.Running);
        var target = Discover().Single();
        target.SizeBytes.Should().Be(bytes.Length);

        InNode(2, () => service.Stop(5, 5, lab.NodeInterface(2))).State.Should().Be(AtaoeExportState.Running, "Stop reports the export as it found it");
        service.List().Should().BeEmpty();
        NothingLeftAfterStopping();
    }

    [IntegrationFact("vblade", "ip", "start-stop-daemon")]
    public void Taken_addresses_missing_interfaces_and_bad_input_are_refused()
    {
        var (volume, _) = Volume("busy", 1 << 20);
        var (other, _) = Volume("other", 1 << 20);
        var (spare, _) = Volume("spare", 1 << 20);
        InNode(1, () => service.Export(Request(volume, 4, 2, 1)));
        lab.StartVbladeByHand(1, "4", "3", lab.NodeInterface(1), other.Path).Should().StartWith("pid ");

        Refusal(Request(other, 4, 2, 1)).ErrorId.Should().Be("AoeAddressInUse");
        var byHand = Refusal(Request(other, 4, 3, 1));
        byHand.ErrorId.Should().Be("AoeAddressInUse");
        byHand.Message.Should().Contain("did not start");
        InNode(1, () => service.Plan(Request(spare, 4, null, 1))).Slot.Should().Be(0, "slots 2 and 3 are taken");
        Refusal(Request(volume, 4, 9, 1)).Should().BeOfType<VolumeInUseException>("a volume already exported writable is not exported twice");
        InNode(2, () => service.Plan(Request(spare, 4, 2, 2))).Slot.Should().Be(2, "the same address on another segment is free");

        Refusal(Request(other, 4, 5, 1) with { Interface = "nosuch0" }).ErrorId.Should().Be("AoeInterfaceNotFound");
        Refusal(Request(other, 65535, 0, 1)).ErrorId.Should().Be("AoeShelfOutOfRange");
        Refusal(Request(other, -1, 0, 1)).ErrorId.Should().Be("AoeShelfOutOfRange");
        Refusal(Request(other, 1, 255, 1)).ErrorId.Should().Be("AoeSlotOutOfRange");
        Refusal(Request(other, 1, 0, 1) with { MacAllow = Enumerable.Range(1, 33).Select(i => $"02:00:00:00:00:{i:x2}").ToList() }).ErrorId.Should().Be("TooManyMacAddresses");
        Refusal(Request(other, 1, 0, 1) with { MacAllow = ["not-a-mac"] }).ErrorId.Should().Be("InvalidMacAddress");
        Refusal(Request(other, 1, 0, 1), isRoot: false).Should().BeOfType<NotRootException>();
        service.List().Should().ContainSingle("refusals start nothing");
    }

    [IntegrationFact("vblade", "ip", "start-stop-daemon", "losetup", "mount", "mkfs.ext4")]
    public void A_mounted_volume_is_exported_only_read_only()
    {
        var volume = pool.CreateVolume(context, "mounted", ByteSize.FromMiB(64));
        var mounter = new VolumeMounter(context);
        var mounted = mounter.Mount(volume, pool.Combine("mnt"), readOnly: false);
        try
        {
            var refusal = Refusal(Request(mounted, 2, 0, 1));
            refusal.Should().BeOfType<VolumeInUseException>();
            refusal.Message.Should().Contain(pool.Combine("mnt")).And.Contain("-ReadOnly");
            var export = InNode(1, () => service.Export(Request(mounted, 2, 0, 1) with { ReadOnly = true }));
            export.ReadOnly.Should().BeTrue();
            Discover().Single().SizeBytes.Should().Be(64L << 20);
            InNode(1, () => service.Stop(2, 0, lab.NodeInterface(1)));
        }
        finally
        {
            mounter.Dismount(new VolumeCatalog(context).Get(volume.Path));
        }
        NothingLeftAfterStopping();
    }

    [IntegrationFact("vblade", "ip", "start-stop-daemon")]
    public void Planning_changes_nothing_and_applying_journals_exactly_the_planned_steps()
    {
        var (volume, _) = Volume("planned", 1 << 20);
        var journal = new List<string>();
        var journaled = new AtaoeExportService(Journaled(journal));

        var plan = InNode(1, () => journaled.Plan(Request(volume, 9, null, 1)));
        plan.Steps.Should().HaveCount(2);
        plan.Steps[0].Should().StartWith("start-stop-daemon --start --background").And.EndWith($"-- 9 0 {lab.NodeInterface(1)} {volume.Path}");
        lab.ProcessesInside().Should().BeEmpty("a plan starts nothing");
        service.List().Should().BeEmpty();
        InNode(1, () => journaled.Apply(plan)).Target.Should().Be("e9.0");
        journal.Should().Equal(plan.Steps);

        journal.Clear();
        var stop = InNode(1, () => journaled.Plan(new AtaoeExportAddress(9, 0, lab.NodeInterface(1))));
        stop.Steps.Should().HaveCount(2).And.Subject.First().Should().Contain($"Stop vblade pid {service.List().Single().ProcessId}");
        service.List().Single().State.Should().Be(AtaoeExportState.Running, "a stop plan stops nothing");
        InNode(1, () => journaled.Apply(stop));
        journal.Should().Equal(stop.Steps);
        NothingLeftAfterStopping();
    }

    [IntegrationFact("vblade", "ip", "start-stop-daemon")]
    public void Apply_refuses_a_plan_whose_slot_was_taken_or_whose_vblade_died_since_it_was_made()
    {
        var (volume, _) = Volume("late", 1 << 20);
        var (other, _) = Volume("early", 1 << 20);
        var journal = new List<string>();
        var journaled = new AtaoeExportService(Journaled(journal));
        var plan = InNode(1, () => journaled.Plan(Request(volume, 6, null, 1)));
        InNode(1, () => service.Export(Request(other, 6, null, 1))).Slot.Should().Be(plan.Slot);

        FluentActions.Invoking(() => InNode(1, () => journaled.Apply(plan))).Should().Throw<ResourceExistsException>().Which.ErrorId.Should().Be("AoeAddressInUse");
        journal.Should().BeEmpty();

        var stop = InNode(1, () => journaled.Plan(new AtaoeExportAddress(6, plan.Slot, lab.NodeInterface(1))));
        Process.GetProcessById(stop.Export.ProcessId).Kill();
        WaitUntil(() => !VbladeProcesses.IsAlive(stop.Export.ProcessId));
        FluentActions.Invoking(() => InNode(1, () => journaled.Apply(stop))).Should().Throw<StorageOperationException>()
            .Which.Message.Should().Contain("changed since it was planned").And.Contain("Dead");
        journal.Should().BeEmpty();
        service.List().Single().State.Should().Be(AtaoeExportState.Dead, "the refused stop left the record for a new plan");
        var clear = InNode(1, () => journaled.Plan(new AtaoeExportAddress(6, plan.Slot, lab.NodeInterface(1))));
        clear.Steps.Should().ContainSingle().Which.Should().StartWith("Remove the record");
        InNode(1, () => journaled.Apply(clear));
        NothingLeftAfterStopping();
    }

    private StorageContext Journaled(List<string> journal) =>
        new(context.Pools, context.Runner, context.Runtime, context.IsRoot) { Journal = new Planning.StepJournal(journal.Add), LockWait = context.LockWait };

    /// <summary>
    /// aoeping (aoetools) as an independent initiator. vblade answers Query Config with a 32-byte frame when the target
    /// has no config string; a real NIC pads it to Ethernet's 60-byte minimum, a veth does not, and aoeping drops frames
    /// under 60 bytes — so it cannot see the target until a config string makes the answer long enough.
    /// </summary>
    [IntegrationFact("vblade", "ip", "start-stop-daemon", "aoeping")]
    public void Aoeping_sees_an_export_once_its_config_answer_is_a_full_Ethernet_frame()
    {
        var (volume, _) = Volume("pinged", 1 << 20);
        InNode(1, () => service.Export(Request(volume, 12, 6, 1)));
        var nodeMac = Discover().Single().MacAddress.Replace(":", "");

        var unpadded = Aoeping("-s", "2", "-v", "12", "6", lab.SupervisorInterface);
        unpadded.ExitCode.Should().NotBe(0, "aoeping gives up on the 32-byte config answer");
        unpadded.StandardOutput.Should().NotContain("found e12.6");

        lab.InSupervisor(() =>
        {
            using var client = AoeClient.Open(lab.SupervisorInterface);
            return client.SetConfigString(client.Discover(Listen).Single(), "sparsestorage supervisor: cluster");
        }).ConfigString.Should().Equal(System.Text.Encoding.ASCII.GetBytes("sparsestorage supervisor: cluster"));
        var pinged = Aoeping("-s", "2", "-v", "-I", "12", "6", lab.SupervisorInterface);
        pinged.ExitCode.Should().Be(0, pinged.StandardError);
        pinged.StandardOutput.Should().Contain($"found e12.6 with mac {nodeMac}").And.Contain("model: Coraid EtherDrive vblade")
            .And.Contain("serial_number: 12.6:");
        Discover().Single().ConfigString.Should().Be("sparsestorage supervisor: cluster");
        NothingLeftAfterStopping();
    }

    private Processes.ToolResult Aoeping(params string[] arguments) =>
        new Processes.ProcessRunner().Run(new Processes.ToolCommand("ip", ["netns", "exec", lab.Supervisor, "aoeping", .. arguments]) { Timeout = TimeSpan.FromSeconds(10) });

    private (SparseVolume Volume, byte[] Bytes) Volume(string name, int bytes)
    {
        var volume = pool.CreateVolume(context, name, new ByteSize(bytes), fileSystem: FileSystemType.None);
        var content = new byte[bytes];
        new Random(name.Length).NextBytes(content);
        File.WriteAllBytes(volume.Path, content);
        return (volume, content);
    }

    private AtaoeExportRequest Request(SparseVolume volume, int shelf, int? slot, int node) =>
        new() { Volume = volume, Shelf = shelf, Slot = slot, Interface = lab.NodeInterface(node) };

    private T InNode<T>(int node, Func<T> work) => lab.InNode(node, work);

    private SparseStorageException Refusal(AtaoeExportRequest request, bool isRoot = true) =>
        FluentActions.Invoking(() => InNode(1, () => new AtaoeExportService(pool.Context(isRoot: isRoot)).Export(request)))
            .Should().Throw<SparseStorageException>().Which;

    private IReadOnlyList<AtaoeTarget> Discover() => lab.InSupervisor(() =>
    {
        using var client = AoeClient.Open(lab.SupervisorInterface);
        return client.Discover(Listen);
    });

    private void AssertDetachedAndPrivate(AtaoeExport export)
    {
        var vblade = StatFields(export.ProcessId.ToString());
        int.Parse(vblade[1]).Should().NotBe(Environment.ProcessId, "vblade is no child of the process that started it");
        vblade[3].Should().NotBe(StatFields("self")[3], "vblade lives in a session of its own, so the end of ours does not end it");
        File.GetUnixFileMode(context.Runtime.AoeExports).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.GetFiles(context.Runtime.AoeExports, "e*").Should().HaveCountGreaterThan(0)
            .And.OnlyContain(f => File.GetUnixFileMode(f) == (UnixFileMode.UserRead | UnixFileMode.UserWrite));
        File.ReadAllText(export.LogPath).Should().Contain($"pid {export.ProcessId}:");
    }

    /// <summary>/proc/PID/stat after the command name: state, ppid, pgrp, session, ...</summary>
    private static string[] StatFields(string pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    private static void WaitUntil(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < TimeSpan.FromSeconds(5))
            Thread.Sleep(20);
        condition().Should().BeTrue();
    }

    private void NothingLeftAfterStopping()
    {
        foreach (var export in service.List())
            InNode(export.Interface == lab.NodeInterface(1) ? 1 : 2, () => service.Stop(export.Shelf, export.Slot, export.Interface));
        lab.ProcessesInside().Should().BeEmpty("every vblade was stopped");
        Directory.GetFiles(context.Runtime.AoeExports, "e*").Should().BeEmpty();
    }

    public void Dispose()
    {
        lab.Dispose();
        lab.LeftBehind().Should().BeEmpty();
        pool.AssertNothingLeftBehind();
        pool.Dispose();
    }
}
