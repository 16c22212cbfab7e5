using System.Security.Cryptography;
using System.Text.Json;
using SparseStorage.Core.Aoe;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Copying;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Copies between a Ceph pool and a file pool, both ways, and AoE exports of Ceph volumes, against a real cluster
/// (<see cref="CephLab"/>, one for this class). Data is written and checked by the test's own hand: qemu-io and rbd as
/// client.admin, sha256 of whole images, allocated bytes from stat and rbd du. The AoE target is served by vblade in a
/// node namespace that is also a client host of the cluster, and read and written from a supervisor namespace.
/// </summary>
[Collection(CephLabCollection.Name)]
public sealed class CephCopyAoeTests(CephLab lab) : IClassFixture<CephLab>, IDisposable
{
    private const string CephPoolName = "shared";
    private const string FilePoolName = "files";
    private static readonly long Size = ByteSize.FromMiB(256).Bytes;
    /// <summary>Data written: 3 MiB at 8 MiB and 1 MiB at 200 MiB; a copy that kept the holes allocates a few objects of 4 MiB at most.</summary>
    private static readonly long AllocatedAtMost = ByteSize.FromMiB(24).Bytes;
    private readonly TempDirectory root = new("sstest-ccopyaoe");
    private readonly List<string> steps = [];

    private (StorageContext Context, CephPoolSettings Settings) Pools(TempDirectory? host = null, List<string>? journal = null)
    {
        var settings = lab.FreshNamespace();
        return (Host(host ?? root, settings, journal ?? steps), settings);
    }

    private StorageContext Host(TempDirectory host, CephPoolSettings settings, List<string> journal)
    {
        var context = CephLab.Context(host, journal: new StepJournal(journal.Add));
        var registration = new CephPoolRegistration(context);
        registration.Apply(registration.Plan(new RegisterCephPoolRequest(CephPoolName, settings)));
        Directory.CreateDirectory(host.Combine("files"));
        context.Pools.Register(FilePoolName, host.Combine("files"));
        return context;
    }

    private static SparseVolume CreateCeph(StorageContext context, string name, long size)
    {
        var creation = new CephVolumeCreation(context);
        return creation.Apply(creation.Plan(new NewVolumeRequest { Name = name, Pool = CephPoolName, Size = new ByteSize(size) }));
    }

    private static SparseVolume CreateFile(StorageContext context, NewVolumeRequest request)
    {
        var creator = new VolumeCreator(context);
        return creator.Apply(creator.Plan(request));
    }

    [CephFact]
    public void A_Ceph_volume_copied_into_a_file_pool_as_raw_and_as_qcow2_has_the_same_data_and_keeps_its_holes_by_exactly_the_planned_steps()
    {
        var (context, settings) = Pools();
        var volume = CreateCeph(context, "disk", Size);
        QemuIo(CephFileName(settings, "disk"), "write -P 0x5a 8M 3M", "write -P 0xa5 200M 1M");
        var expected = Sha256(AdminExport(settings, "disk"));
        var copy = new CephCrossPoolCopy(context);

        steps.Clear();
        var rawPlan = copy.Plan((volume, new CopyVolumeRequest { Destination = root.Combine("files", "disk.img") }));
        File.Exists(root.Combine("files", "disk.img")).Should().BeFalse("a plan changes nothing");
        var raw = copy.Apply(rawPlan);
        var rawSteps = steps.ToList();
        steps.Clear();
        var qcowPlan = copy.Plan((volume, new CopyVolumeRequest { Destination = root.Combine("files", "disk2.qcow2") }));
        var qcow = copy.Apply(qcowPlan);

        AssertApplied(rawPlan.Steps, rawSteps);
        AssertApplied(qcowPlan.Steps, steps);
        rawPlan.Steps.Should().HaveCount(2).And.Subject.First().Should().StartWith("qemu-img convert -p -f raw -O raw rbd:");
        qcowPlan.Steps.First().Should().StartWith("qemu-img convert -p -f raw -O qcow2 rbd:");
        AssertNoKey(rawSteps.Concat(steps), settings);
        raw.Format.Should().Be(VolumeFormat.Raw);
        raw.SizeBytes.Should().Be(Size);
        qcow.Format.Should().Be(VolumeFormat.Qcow2);
        qcow.SizeBytes.Should().Be(Size);
        Sha256(raw.Path).Should().Be(expected);
        Sha256(AsRaw(qcow.Path)).Should().Be(expected);
        AllocatedBytes(raw.Path).Should().BeGreaterThanOrEqualTo(ByteSize.FromMiB(4).Bytes).And.BeLessThan(AllocatedAtMost, "the holes of the image stay holes in the file");
        AllocatedBytes(qcow.Path).Should().BeLessThan(AllocatedAtMost);
        Directory.GetFiles(root.Combine("files"), SiblingFile.PartialMarker + "*").Should().BeEmpty();
    }

    [CephFact]
    public void A_raw_and_a_qcow2_file_volume_copied_into_a_Ceph_pool_have_the_same_data_and_stay_thin_by_exactly_the_planned_steps()
    {
        var (context, settings) = Pools();
        var rawSource = CreateFile(context, new NewVolumeRequest { Name = "fileraw", Pool = FilePoolName, Size = new ByteSize(Size) });
        QemuIo(rawSource.Path, "write -P 0x11 8M 3M", "write -P 0x22 200M 1M");
        var qcowSource = CreateFile(context, new NewVolumeRequest { Name = "fileqcow", Pool = FilePoolName, Size = new ByteSize(Size), Format = VolumeFormat.Qcow2 });
        QemuIo(qcowSource.Path, "write -P 0x33 8M 3M", "write -P 0x44 200M 1M");
        var copy = new CephCrossPoolCopy(context);

        steps.Clear();
        var rawPlan = copy.Plan((rawSource, new CopyVolumeRequest { Destination = settings.ImagePath("fromraw") }));
        AdminRbd(settings, "ls").Should().NotContain("fromraw", "a plan changes nothing");
        var fromRaw = copy.Apply(rawPlan);
        var rawSteps = steps.ToList();
        steps.Clear();
        var qcowPlan = copy.Plan((qcowSource, new CopyVolumeRequest { Destination = settings.ImagePath("fromqcow") }));
        var fromQcow = copy.Apply(qcowPlan);

        AssertApplied(rawPlan.Steps, rawSteps);
        AssertApplied(qcowPlan.Steps, steps);
        rawPlan.Steps.Should().SatisfyRespectively(
            s => s.Should().StartWith("qemu-img convert -p -f raw -O raw " + rawSource.Path + " rbd:"),
            s => s.Should().StartWith("rbd ").And.Contain(" rename --image .sparsestorage-partial-").And.Contain("--dest fromraw"));
        qcowPlan.Steps.First().Should().StartWith("qemu-img convert -p -f qcow2 -O raw ");
        AssertNoKey(rawSteps.Concat(steps), settings);
        fromRaw.Path.Should().Be(settings.ImagePath("fromraw"));
        fromQcow.SizeBytes.Should().Be(Size);
        Sha256(AdminExport(settings, "fromraw")).Should().Be(Sha256(rawSource.Path));
        Sha256(AdminExport(settings, "fromqcow")).Should().Be(Sha256(AsRaw(qcowSource.Path)));
        UsedBytes(settings, "fromraw").Should().BeGreaterThanOrEqualTo(ByteSize.FromMiB(4).Bytes).And.BeLessThan(AllocatedAtMost, "only the data was written to the cluster");
        UsedBytes(settings, "fromqcow").Should().BeLessThan(AllocatedAtMost);
        AdminRbd(settings, "ls").Should().NotContain(SiblingFile.PartialMarker, "the work image was renamed");
    }

    [CephFact]
    public void Linked_copies_across_pool_kinds_taken_names_and_sources_open_elsewhere_are_refused_and_Replace_replaces()
    {
        var (context, settings) = Pools();
        var volume = CreateCeph(context, "src", ByteSize.FromMiB(16).Bytes);
        QemuIo(CephFileName(settings, "src"), "write -P 0x77 0 1M");
        var file = CreateFile(context, new NewVolumeRequest { Name = "plain", Pool = FilePoolName, Size = ByteSize.FromMiB(16) });
        var copy = new CephCrossPoolCopy(context);

        Refused(copy, volume, new CopyVolumeRequest { Destination = root.Combine("files", "x.qcow2"), Linked = true }).ErrorId.Should().Be("LinkedAcrossPoolKinds");
        Refused(copy, file, new CopyVolumeRequest { Destination = settings.ImagePath("y"), Linked = true }).ErrorId.Should().Be("LinkedAcrossPoolKinds");
        Refused(copy, volume, new CopyVolumeRequest { Destination = file.Path }).ErrorId.Should().Be("VolumeExists");
        Refused(copy, file, new CopyVolumeRequest { Destination = volume.Path }).ErrorId.Should().Be("VolumeExists");
        using (lab.Watch(settings, "src"))
        {
            var open = Refused(copy, volume, new CopyVolumeRequest { Destination = root.Combine("files", "open.img") });
            open.Should().BeOfType<VolumeInUseException>();
            open.Message.Should().Contain("-AllowInUseSource");
            copy.Plan((volume, new CopyVolumeRequest { Destination = root.Combine("files", "open.img"), AllowInUseSource = true }))
                .Warnings.Should().ContainSingle().Which.Should().Contain("may need a check");
        }

        var late = copy.Plan((volume, new CopyVolumeRequest { Destination = root.Combine("files", "late.img") }));
        File.WriteAllBytes(root.Combine("files", "late.img"), [1]);
        steps.Clear();
        FluentActions.Invoking(() => copy.Apply(late)).Should().Throw<ResourceExistsException>("Apply checks again that the destination is free").Which.ErrorId.Should().Be("VolumeExists");
        steps.Should().BeEmpty();
        File.ReadAllBytes(root.Combine("files", "late.img")).Should().Equal([(byte)1]);

        var replaced = copy.Apply(copy.Plan((volume, new CopyVolumeRequest { Destination = file.Path, Replace = true })));
        var replacing = copy.Plan((replaced, new CopyVolumeRequest { Destination = volume.Path, Replace = true }));
        copy.Apply(replacing);

        replacing.Steps.Should().Contain(s => s.Contains(" rm --no-progress --image src ", StringComparison.Ordinal));
        Sha256(replaced.Path).Should().Be(Sha256(AdminExport(settings, "src")));
        File.ReadAllBytes(replaced.Path)[0].Should().Be(0x77);
        new VolumeCatalog(context).ByName(["*"], CephPoolName).Select(v => v.Name).Should().Equal("src");
    }

    [CephFact]
    public void A_Ceph_volume_exported_over_AoE_is_served_from_its_FUSE_file_under_this_hosts_lock_and_stopping_leaves_nothing()
    {
        var (context, settings) = Pools();
        var volume = CreateCeph(context, "aoedisk", ByteSize.FromMiB(64).Bytes);
        QemuIo(CephFileName(settings, "aoedisk"), "write -P 0x6b 0 1M");
        using var aoe = new AoeLab(nodes: 1);
        lab.Connect(aoe.Node(1), host: 60);
        var service = new AtaoeExportService(context);
        var request = new AtaoeExportRequest { Volume = volume, Shelf = 3, Slot = 4, Interface = aoe.NodeInterface(1) };

        steps.Clear();
        var plan = aoe.InNode(1, () => service.Plan(request));
        LiveProcesses.CommandLinesMentioning(root.Path).Should().BeEmpty("a plan starts nothing");
        try
        {
            ExportServeAndStop(context, settings, volume, aoe, service, plan);
        }
        finally
        {
            foreach (var left in service.List())
                aoe.InNode(1, () => service.Stop(left.Shelf, left.Slot, left.Interface));
            if (FuseExportRecord.Read(context.Runtime.FuseExports, volume.Path) is { } daemon)
                context.FuseExporter().Stop(daemon, CancellationToken.None);
        }
    }

    private void ExportServeAndStop(StorageContext context, CephPoolSettings settings, SparseVolume volume, AoeLab aoe, AtaoeExportService service, AtaoeExportPlan plan)
    {
        var request = plan.Request;
        var export = aoe.InNode(1, () => service.Apply(plan));
        var exportSteps = steps.ToList();
        var servedFile = FuseExportRecord.ExportPathFor(context.Runtime.FuseExports, volume.Path);
        var vblade = VbladeProcesses.Scan().Single(p => p.ProcessId == export.ProcessId);
        var lockWhileServing = MountLockInfo(settings, "aoedisk");
        var secondHost = new TempDirectory("sstest-ccopyaoe-b");
        Exception? refusedOnSecondHost;
        try
        {
            var second = Host(secondHost, settings, []);
            var secondVolume = new VolumeCatalog(second).Get(volume.Path);
            refusedOnSecondHost = Record.Exception(() => new AtaoeExportService(second).Plan(request with { Volume = secondVolume }));
        }
        finally
        {
            secondHost.Dispose();
        }
        var (firstSector, patched) = aoe.InSupervisor(() =>
        {
            using var client = AoeClient.Open(aoe.SupervisorInterface);
            var target = client.Discover(TimeSpan.FromMilliseconds(600)).Single();
            var disk = client.Connect(target);
            var read = new byte[4096];
            disk.Read(0, read);
            disk.Write(2048, Enumerable.Repeat((byte)0xC3, 4096).ToArray());
            return (read, target.SizeBytes);
        });
        var dismount = () => new CephVolumeMounting(context).Plan(new DismountVolumeRequest(volume));
        dismount.Should().Throw<VolumeInUseException>().Which.Message.Should().Contain("Stop-AtaoeExport");

        steps.Clear();
        var stop = aoe.InNode(1, () => service.Plan(new AtaoeExportAddress(3, 4, aoe.NodeInterface(1))));
        aoe.InNode(1, () => service.Apply(stop));

        AssertApplied(plan.Steps, exportSteps);
        plan.Steps.Should().SatisfyRespectively(
            s => s.Should().StartWith("rados ").And.Contain(" lock get sparsestorage_mount.aoedisk mount "),
            s => s.Should().StartWith("qemu-storage-daemon ").And.Contain("driver=rbd"),
            s => s.Should().StartWith("start-stop-daemon --start").And.EndWith($"-- 3 4 {aoe.NodeInterface(1)} {servedFile}"),
            s => s.Should().StartWith("Wait until vblade serves e3.4"));
        AssertNoKey(exportSteps, settings);
        vblade.CommandLine.File.Should().Be(servedFile, "vblade serves the image's FUSE file");
        vblade.NetworkNamespace.Should().NotBeNull().And.NotBe(Native.NetworkNamespace.Current());
        lockWhileServing.Should().Contain(RbdMountLock.DescriptionFor(RbdMountLock.HolderOf(context.Runtime)));
        refusedOnSecondHost.Should().BeOfType<VolumeInUseException>().Which.Message.Should().Contain(RbdMountLock.HolderOf(context.Runtime));
        patched.Should().Be(ByteSize.FromMiB(64).Bytes);
        firstSector.Should().OnlyContain(b => b == 0x6b, "the first sectors read over AoE are the image's");
        stop.Steps.Should().SatisfyRespectively(
            s => s.Should().StartWith($"Stop vblade pid {export.ProcessId}"),
            s => s.Should().StartWith("stop qemu-storage-daemon (pid "),
            s => s.Should().StartWith("rados ").And.Contain(" lock break sparsestorage_mount.aoedisk mount "),
            s => s.Should().StartWith("Remove the record"));
        steps.Should().Equal(stop.Steps);
        VbladeProcesses.IsAlive(export.ProcessId).Should().BeFalse();
        LiveProcesses.CommandLinesMentioning(root.Path).Should().BeEmpty("no vblade and no qemu-storage-daemon outlive the stop");
        FuseExportRecord.Read(context.Runtime.FuseExports, volume.Path).Should().BeNull();
        MountLockInfo(settings, "aoedisk").Should().NotContain(RbdMountLock.DescriptionPrefix, "the stop released the lock");
        service.List().Should().BeEmpty();
        var image = File.ReadAllBytes(AdminExport(settings, "aoedisk"));
        image.AsSpan(2048 * 512, 4096).ToArray().Should().OnlyContain(b => b == 0xC3, "what the initiator wrote reached the cluster");
    }

    private static void AssertApplied(IReadOnlyList<string> planned, IReadOnlyList<string> applied)
    {
        applied.Should().HaveCount(planned.Count);
        applied.Zip(planned).Should().OnlyContain(pair => Matches(pair.Second, pair.First), "each applied step is the planned one, <...> standing for a value only the run knows");
    }

    private static bool Matches(string planned, string applied) =>
        System.Text.RegularExpressions.Regex.IsMatch(applied,
            "^" + string.Join(".+", planned.Split(new[] { '<', '>' }).Where((_, i) => i % 2 == 0).Select(System.Text.RegularExpressions.Regex.Escape)) + "$");

    private void AssertNoKey(IEnumerable<string> applied, CephPoolSettings settings)
    {
        var key = File.ReadLines(settings.Keyring!).Select(l => l.Trim()).First(l => l.StartsWith("key", StringComparison.Ordinal)).Split('=', 2)[1].Trim();
        key.Should().NotBeEmpty();
        applied.Should().NotContain(s => s.Contains(key, StringComparison.Ordinal));
        applied.Should().Contain(s => s.Contains(settings.Keyring!, StringComparison.Ordinal), "the keyring file is named instead");
    }

    private static SparseStorageException Refused(CephCrossPoolCopy copy, SparseVolume source, CopyVolumeRequest request) =>
        FluentActions.Invoking(() => copy.Plan((source, request))).Should().Throw<SparseStorageException>().Which;

    private string CephFileName(CephPoolSettings settings, string image) =>
        $"rbd:{settings.Pool}/{settings.Namespace}/{image}:conf={lab.ConfigPath}:id=admin:keyring={lab.AdminKeyring}";

    private static void QemuIo(string file, params string[] commands) =>
        new ProcessRunner().RunChecked(new ToolCommand("qemu-io", ["-f", file.StartsWith("rbd:", StringComparison.Ordinal) || !file.EndsWith(".qcow2", StringComparison.Ordinal) ? "raw" : "qcow2", file,
            .. commands.SelectMany(c => new[] { "-c", c })]));

    private string AdminRbd(CephPoolSettings settings, params string[] arguments) =>
        lab.Rbd([.. arguments, "--pool", settings.Pool, "--namespace", settings.Namespace!]);

    /// <summary>The whole image as a file, exported by client.admin.</summary>
    private string AdminExport(CephPoolSettings settings, string image)
    {
        var file = root.Combine($"export-{image}-{Guid.NewGuid():N}.raw");
        AdminRbd(settings, "export", "--no-progress", "--image", image, file);
        return file;
    }

    private long UsedBytes(CephPoolSettings settings, string image)
    {
        using var document = JsonDocument.Parse(AdminRbd(settings, "du", "--format", "json", "--image", image));
        return document.RootElement.GetProperty("images").EnumerateArray().Single().GetProperty("used_size").GetInt64();
    }

    private string AsRaw(string qcow2)
    {
        var file = root.Combine($"raw-{Guid.NewGuid():N}.raw");
        new ProcessRunner().RunChecked(new ToolCommand("qemu-img", "convert", "-f", "qcow2", "-O", "raw", qcow2, file));
        return file;
    }

    private static string Sha256(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    private static long AllocatedBytes(string file) =>
        long.Parse(new ProcessRunner().RunChecked(new ToolCommand("stat", "--format=%b", file)).StandardOutput.Trim(), System.Globalization.CultureInfo.InvariantCulture) * 512;

    private string MountLockInfo(CephPoolSettings settings, string image) =>
        new ProcessRunner().RunChecked(new ToolCommand("rados", ["--conf", lab.ConfigPath, "--id", "admin", "--keyring", lab.AdminKeyring, "--pool", settings.Pool,
            "--namespace", settings.Namespace!, "lock", "info", RbdMountLock.ObjectOf(image), "mount", "--format", "json"])).StandardOutput;

    public void Dispose() => root.Dispose();
}
