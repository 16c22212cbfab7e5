using System.Security.Cryptography;
using System.Text.RegularExpressions;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Maintenance;
using SparseStorage.Core.Volumes.Resize;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Resizing Ceph volumes with their filesystem against a real cluster (<see cref="CephLab"/>, brought up once for this
/// class and always taken down): rbd resize and the filesystem tools on the image's FUSE export, in the order that
/// cannot lose data, with the file pools' refusals. Data is written and read back by the test through a mount.
/// </summary>
[Collection(CephLabCollection.Name)]
public sealed class CephResizeTests(CephLab lab) : IClassFixture<CephLab>, IDisposable
{
    private const string PoolName = "resized";
    private readonly TempDirectory root = new("sstest-cresize");
    private readonly List<string> applied = [];
    private readonly List<(StorageContext Context, string Path)> mounted = [];

    private (StorageContext Context, CephPoolSettings Settings) Pool()
    {
        var settings = lab.FreshNamespace();
        var context = CephLab.Context(root, journal: new StepJournal(applied.Add));
        var registration = new CephPoolRegistration(context);
        registration.Apply(registration.Plan(new RegisterCephPoolRequest(PoolName, settings)));
        return (context, settings);
    }

    private SparseVolume Create(StorageContext context, string name, long mebibytes, FileSystemType fileSystem)
    {
        var creation = new CephVolumeCreation(context);
        var volume = creation.Apply(creation.Plan(new NewVolumeRequest { Name = name, Pool = PoolName, Size = ByteSize.FromMiB(mebibytes), FileSystem = fileSystem }));
        applied.Clear();
        return volume;
    }

    /// <summary>Mounts the volume, writes <paramref name="mebibytes"/> of random data to a file, dismounts; returns the data's hash.</summary>
    private string WriteFile(StorageContext context, SparseVolume volume, int mebibytes)
    {
        var data = RandomNumberGenerator.GetBytes(mebibytes << 20);
        WhileMounted(context, volume, mountPoint =>
        {
            using var file = new FileStream(Path.Combine(mountPoint, "data.bin"), FileMode.CreateNew);
            file.Write(data);
            file.Flush(flushToDisk: true);
        });
        return Convert.ToHexString(SHA256.HashData(data));
    }

    private string ReadFileHash(StorageContext context, SparseVolume volume)
    {
        var hash = "";
        WhileMounted(context, volume, mountPoint => hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(mountPoint, "data.bin")))));
        return hash;
    }

    private void WhileMounted(StorageContext context, SparseVolume volume, Action<string> action)
    {
        var mountPoint = root.Combine("mnt-" + volume.Name);
        var mounting = new CephVolumeMounting(context);
        var plan = mounting.Plan(new MountCephVolumeRequest(volume, mountPoint));
        mounted.Add((context, volume.Path));
        mounting.Apply(plan);
        action(mountPoint);
        mounting.Apply(mounting.Plan(new DismountVolumeRequest(volume)));
        mounted.Remove((context, volume.Path));
        applied.Clear();
    }

    /// <summary>Plans, checks that the plan changed nothing, applies, and checks that exactly the planned steps ran.</summary>
    private (ResizePlan Plan, VolumeResizeResult Result) Resize(StorageContext context, ResizeRequest request)
    {
        var service = new CephVolumeResize(context);
        var plan = service.Plan(request);
        ImageSize(request.Volume).Should().Be(request.Volume.SizeBytes, "a plan changes nothing");
        applied.Clear();
        var result = service.Apply(plan);
        applied.Should().HaveCount(plan.Steps.Count, "planned: {0}; applied: {1}", string.Join(" | ", plan.Steps), string.Join(" | ", applied));
        applied.Zip(plan.Steps).Should().OnlyContain(pair => Matches(pair.Second, pair.First), "each applied step is the planned one, <...> standing for a value only the run knows");
        return (plan, result);
    }

    /// <summary>The image's size as the cluster reports it to client.admin (the test's own hand).</summary>
    private long ImageSize(SparseVolume volume)
    {
        var parts = volume.Path.Split('/');
        var info = lab.Rbd("info", "--format", "json", "--pool", CephLab.Pool, "--namespace", parts[1], "--image", parts[2]);
        return long.Parse(Regex.Match(info, "\"size\":(\\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private string ClientKey() =>
        File.ReadAllLines(lab.ClientKeyring).Select(l => l.Trim()).First(l => l.StartsWith("key", StringComparison.Ordinal)).Split('=', 2)[1].Trim();

    private static int IndexOf(IReadOnlyList<string> steps, string start, string contains) =>
        steps.ToList().FindIndex(s => s.StartsWith(start, StringComparison.Ordinal) && s.Contains(contains, StringComparison.Ordinal));

    [CephFact]
    public void Test_checks_the_filesystem_read_only_on_an_export_refuses_a_mounted_volume_and_finds_damage()
    {
        var (context, settings) = Pool();
        var volume = Create(context, "checked", 128, FileSystemType.Ext4);
        WriteFile(context, volume, 4);
        var checker = new VolumeChecker(context);

        var healthy = checker.Test(volume);
        var whileMounted = default(VolumeTestResult);
        WhileMounted(context, volume, _ => whileMounted = checker.Test(volume));
        new ProcessRunner().RunChecked(new ToolCommand("qemu-io", "-f", "raw",
            $"rbd:{settings.Pool}/{settings.Namespace}/checked:conf={lab.ConfigPath}:id=admin:keyring={lab.AdminKeyring}", "-c", "write -P 0 2048 63488"));
        var damaged = checker.Test(volume);

        healthy.IsHealthy.Should().BeTrue(string.Join(" / ", healthy.Findings.Select(f => f.Message)));
        healthy.Checks.Should().Contain(c => c.StartsWith("qemu-storage-daemon ", StringComparison.Ordinal) && c.Contains("driver=rbd", StringComparison.Ordinal));
        healthy.Checks.Should().Contain(c => c.StartsWith("e2fsck -f -n ", StringComparison.Ordinal), "the filesystem is checked without a change");
        healthy.Checks.Should().NotContain(c => c.Contains(ClientKey(), StringComparison.Ordinal));
        whileMounted!.Checks.Should().BeEmpty("a mounted filesystem changes under a check");
        whileMounted.Findings.Should().ContainSingle(f => f.Severity == FindingSeverity.Information).Which.Message.Should().StartWith("Not checked: the volume is mounted at ");
        damaged.IsHealthy.Should().BeFalse();
        damaged.Findings.Should().Contain(f => f.Severity == FindingSeverity.Error && f.Check == "e2fsck");
        FuseExportRecord.Read(context.Runtime.FuseExports, volume.Path).Should().BeNull("the check's export is stopped");
    }

    [CephFact]
    public void Growing_an_ext4_volume_grows_the_image_then_the_filesystem_and_keeps_its_data()
    {
        var (context, _) = Pool();
        var volume = Create(context, "grow4", 128, FileSystemType.Ext4);
        var hash = WriteFile(context, volume, 16);

        var (plan, result) = Resize(context, ResizeRequest.To(volume, ByteSize.FromMiB(256)));

        var image = IndexOf(plan.Steps, "rbd ", " resize ");
        var filesystem = IndexOf(plan.Steps, "resize2fs ", "K");
        image.Should().BeGreaterThan(0, "the image grows after the mount lock is taken");
        filesystem.Should().BeGreaterThan(image, "the filesystem grows into the grown image");
        plan.Steps[image].Should().Contain("--size " + (256L << 20) + "B").And.NotContain("--allow-shrink");
        plan.Steps.Should().Contain(s => s.StartsWith("qemu-storage-daemon ", StringComparison.Ordinal) && s.Contains("driver=rbd", StringComparison.Ordinal));
        plan.Steps.Should().NotContain(s => s.Contains(ClientKey(), StringComparison.Ordinal), "only the keyring file's path is passed, never the key");
        plan.Steps[0].Should().Contain(" lock get ");
        plan.Steps[^1].Should().Contain(" lock break ", "the mount lock is given back");
        plan.Impact.Should().Be(PlanImpact.Medium);
        ImageSize(volume).Should().Be(256L << 20);
        result.NewSizeBytes.Should().Be(256L << 20);
        result.FileSystemSizeBytes.Should().Be(256L << 20, "ext4 fills the grown image");
        ReadFileHash(context, volume).Should().Be(hash);
    }

    [CephFact]
    public void Growing_an_xfs_volume_grows_it_through_a_temporary_mount_and_keeps_its_data_and_xfs_refuses_to_shrink()
    {
        var (context, _) = Pool();
        var volume = Create(context, "growxfs", 320, FileSystemType.Xfs);
        var hash = WriteFile(context, volume, 16);

        var (plan, result) = Resize(context, ResizeRequest.By(volume, 192L << 20));

        var image = IndexOf(plan.Steps, "rbd ", " resize ");
        var grow = IndexOf(plan.Steps, "xfs_growfs ", "-d");
        image.Should().BeGreaterThan(0);
        grow.Should().BeGreaterThan(image);
        plan.Steps.Should().Contain(s => s.StartsWith("losetup ", StringComparison.Ordinal)).And.Contain(s => s.StartsWith("mount ", StringComparison.Ordinal))
            .And.Contain(s => s.StartsWith("umount ", StringComparison.Ordinal));
        plan.Steps.Should().NotContain(s => s.Contains(ClientKey(), StringComparison.Ordinal));
        ImageSize(volume).Should().Be(512L << 20);
        result.FileSystemSizeBytes.Should().BeGreaterThan(480L << 20, "xfs grew into the new space");
        ReadFileHash(context, volume).Should().Be(hash);
        context.ReadAttachments().Of(volume.Path).IsAttached.Should().BeFalse("the temporary mount, loop device and export are gone");

        var shrink = () => new CephVolumeResize(context).Plan(ResizeRequest.To(result.Volume, ByteSize.FromMiB(320)));
        shrink.Should().Throw<ResizeNotSupportedException>().Which.ErrorId.Should().Be("XfsCannotShrink");
        ImageSize(volume).Should().Be(512L << 20);
    }

    [CephFact]
    public void Shrinking_an_ext4_volume_shrinks_the_filesystem_before_the_image_and_keeps_its_data()
    {
        var (context, _) = Pool();
        var volume = Create(context, "shrink4", 512, FileSystemType.Ext4);
        var hash = WriteFile(context, volume, 24);

        var (plan, result) = Resize(context, ResizeRequest.To(volume, ByteSize.FromMiB(200)));

        var measure = IndexOf(plan.Steps, "resize2fs -P ", "");
        var filesystem = IndexOf(plan.Steps, "resize2fs ", (200L << 10) + "K");
        var check = IndexOf(plan.Steps, "e2fsck -f -n ", "");
        var image = IndexOf(plan.Steps, "rbd ", " resize ");
        measure.Should().BeGreaterThan(0);
        filesystem.Should().BeGreaterThan(measure);
        check.Should().BeGreaterThan(filesystem, "the shrunk filesystem is checked");
        image.Should().BeGreaterThan(check, "the image is cut only after the filesystem has shrunk");
        plan.Steps[image].Should().Contain("--allow-shrink").And.Contain("--size " + (200L << 20) + "B");
        plan.Steps.Take(image).Should().Contain(s => s.StartsWith("stop the qemu-storage-daemon", StringComparison.Ordinal), "the export is stopped before the image is cut");
        plan.Steps.Should().NotContain(s => s.Contains(ClientKey(), StringComparison.Ordinal));
        plan.Impact.Should().Be(PlanImpact.High);
        ImageSize(volume).Should().Be(200L << 20);
        result.FileSystemSizeBytes.Should().Be(200L << 20);
        ReadFileHash(context, volume).Should().Be(hash);

        var minimum = new CephVolumeResize(context).Plan(ResizeRequest.ToMinimum(result.Volume));
        minimum.Steps.Should().Contain(s => s.StartsWith("rbd ", StringComparison.Ordinal) && s.Contains(ResizePlan.MeasuredSize, StringComparison.Ordinal),
            "-ToMinimumSize shows the size only the run can measure as such");
    }

    [CephFact]
    public void A_shrink_below_the_used_space_is_refused_by_the_plan_and_a_mounted_volume_is_not_resized()
    {
        var (context, _) = Pool();
        var volume = Create(context, "full", 256, FileSystemType.Ext4);
        WriteFile(context, volume, 160);

        var belowUsed = () => new CephVolumeResize(context).Plan(ResizeRequest.To(volume, ByteSize.FromMiB(128)));
        belowUsed.Should().Throw<ShrinkBelowUsedException>().Which.Message.Should().Contain("was not changed");

        var mountPoint = root.Combine("mnt-mounted");
        var mounting = new CephVolumeMounting(context);
        var mountPlan = mounting.Plan(new MountCephVolumeRequest(volume, mountPoint));
        mounted.Add((context, volume.Path));
        mounting.Apply(mountPlan);
        var whileMounted = () => new CephVolumeResize(context).Plan(ResizeRequest.To(volume, ByteSize.FromMiB(512)));
        whileMounted.Should().Throw<ResizeNotSupportedException>().Which.ErrorId.Should().Be("ResizeWhileMounted");
        var shrinkWhileMounted = () => new CephVolumeResize(context).Plan(ResizeRequest.To(volume, ByteSize.FromMiB(240)));
        shrinkWhileMounted.Should().Throw<ResizeNotSupportedException>().Which.ErrorId.Should().Be("ShrinkWhileMounted");
        ImageSize(volume).Should().Be(256L << 20);
    }

    [CephFact]
    public void Optimizing_a_dismounted_volume_trims_and_sparsifies_it_by_exactly_the_planned_steps()
    {
        var (context, _) = Pool();
        var volume = Create(context, "trimmed", 256, FileSystemType.Ext4);
        WriteFile(context, volume, 64);
        WhileMounted(context, volume, mountPoint => File.Delete(Path.Combine(mountPoint, "data.bin")));
        var before = new VolumeCatalog(context).Get(volume.Path).AllocatedBytes;
        var service = new CephVolumeOptimize(context);

        var plan = service.Plan(volume);
        applied.Clear();
        var result = service.Apply(plan);

        applied.Should().HaveCount(plan.Steps.Count);
        applied.Zip(plan.Steps).Should().OnlyContain(pair => Matches(pair.Second, pair.First));
        plan.Steps.Should().Contain(s => s.StartsWith("fstrim ", StringComparison.Ordinal)).And.Contain(s => s.StartsWith("rbd ", StringComparison.Ordinal) && s.Contains(" sparsify ", StringComparison.Ordinal));
        plan.Steps.Should().NotContain(s => s.Contains(ClientKey(), StringComparison.Ordinal));
        result.AllocatedBeforeBytes.Should().Be(before);
        result.AllocatedAfterBytes.Should().BeLessThan(before - (32L << 20), "the 64 MiB of the deleted file went back to the cluster");
        context.ReadAttachments().Of(volume.Path).IsAttached.Should().BeFalse();
    }

    private static bool Matches(string planned, string applied) =>
        Regex.IsMatch(applied, "^" + string.Join(".+", Regex.Split(planned, "'?<[^<>]+>'?").Select(Regex.Escape)) + "$");

    public void Dispose()
    {
        foreach (var (context, path) in Enumerable.Reverse(mounted))
            CephLab.TakeDownMount(context, path);
        root.Dispose();
    }
}
