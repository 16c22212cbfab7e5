using SparseStorage.Core.Ceph;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Snapshots;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Snapshots of Ceph volumes as RBD snapshots against a real cluster (<see cref="CephLab"/>, brought up once for this
/// class and always taken down). Each test registers its own pool on a fresh RBD namespace as the limited client
/// 'sparse'; data is written and read by the test itself with qemu-io and rbd as client.admin.
/// </summary>
[Collection(CephLabCollection.Name)]
public sealed class CephSnapshotTests(CephLab lab) : IClassFixture<CephLab>, IDisposable
{
    private readonly TempDirectory root = new("sstest-cephsnap");
    private readonly List<string> steps = [];
    private const string PoolName = "snaps";

    private (StorageContext Context, CephPoolSettings Settings, SparseVolume Volume) PoolWithVolume(string name = "disk")
    {
        var settings = lab.FreshNamespace();
        var context = CephLab.Context(root, journal: new StepJournal(steps.Add));
        var registration = new CephPoolRegistration(context);
        registration.Apply(registration.Plan(new RegisterCephPoolRequest(PoolName, settings)));
        var creation = new CephVolumeCreation(context);
        var volume = creation.Apply(creation.Plan(new NewVolumeRequest { Name = name, Pool = PoolName, Size = ByteSize.FromMiB(64) }));
        steps.Clear();
        return (context, settings, volume);
    }

    [CephFact]
    public void A_rollback_brings_back_the_data_the_image_held_when_the_snapshot_was_taken_by_exactly_the_planned_steps()
    {
        var (context, settings, volume) = PoolWithVolume();
        var service = new SnapshotService(context);
        WritePattern(settings, "disk", 0x11);
        var before = DateTime.UtcNow.AddMinutes(-1);

        var taking = service.Plan(new NewSnapshotRequest(volume, "golden"));
        lab.Rbd("snap", "ls", "--pool", settings.Pool, "--namespace", settings.Namespace!, "--image", "disk").Should().BeEmpty("a plan changes nothing");
        var snapshot = service.Apply(taking);
        steps.Should().Equal(taking.Steps);
        taking.Steps.Should().ContainSingle().Which.Should().StartWith("rbd ").And.Contain(" snap create ").And.Contain("--snap golden");
        steps.Clear();
        WritePattern(settings, "disk", 0x22);
        FirstByte(settings, "disk").Should().Be(0x22);

        var restoring = service.Plan(new RestoreSnapshotRequest(volume, "golden"));
        FirstByte(settings, "disk").Should().Be(0x22, "a plan changes nothing");
        service.Apply(restoring);

        steps.Should().Equal(restoring.Steps);
        restoring.Steps.Should().ContainSingle().Which.Should().Contain(" snap rollback ").And.Contain("--snap golden");
        restoring.Impact.Should().Be(PlanImpact.High);
        FirstByte(settings, "disk").Should().Be(0x11);
        snapshot.Kind.Should().Be(SnapshotKind.RbdSnapshot);
        snapshot.SizeBytes.Should().Be(64L << 20);
        snapshot.CreatedUtc.Should().BeOnOrAfter(before).And.BeOnOrBefore(DateTime.UtcNow.AddMinutes(1));
        snapshot.CreatedUtc.Kind.Should().Be(DateTimeKind.Utc);
    }

    [CephFact]
    public void Snapshots_are_listed_and_counted_in_the_volume_listing_and_a_removal_runs_its_planned_rbd_snap_rm()
    {
        var (context, settings, volume) = PoolWithVolume();
        var service = new SnapshotService(context);
        service.Create(volume, "first");
        service.Create(volume, "second");
        steps.Clear();

        new VolumeCatalog(context).ByName(["disk"], PoolName).Single().SnapshotCount.Should().Be(2);
        service.Get(volume, ["*"]).Select(s => s.Name).Should().Equal("first", "second");
        service.Get(volume, ["sec*"]).Should().ContainSingle().Which.VolumePath.Should().Be(volume.Path);

        var removing = service.Plan(new RemoveSnapshotRequest(volume, "first"));
        service.Apply(removing);

        steps.Should().Equal(removing.Steps);
        removing.Steps.Should().ContainSingle().Which.Should().Contain(" snap rm ").And.Contain("--snap first");
        lab.Rbd("snap", "ls", "--pool", settings.Pool, "--namespace", settings.Namespace!, "--image", "disk").Should().NotContain("first").And.Contain("second");
        new VolumeCatalog(context).ByName(["disk"], PoolName).Single().SnapshotCount.Should().Be(1);
    }

    [CephFact]
    public void A_protected_snapshot_with_a_clone_is_not_removed_and_without_one_it_is_unprotected_then_removed()
    {
        var (context, settings, volume) = PoolWithVolume();
        var service = new SnapshotService(context);
        service.Create(volume, "base");
        string[] at = ["--pool", settings.Pool, "--namespace", settings.Namespace!];
        lab.Rbd(["snap", "protect", .. at, "--image", "disk", "--snap", "base"]);
        lab.Rbd("clone", $"{settings.Pool}/{settings.Namespace}/disk@base", $"{settings.Pool}/{settings.Namespace}/child");
        steps.Clear();

        var refusal = () => service.Plan(new RemoveSnapshotRequest(volume, "base"));
        refusal.Should().Throw<VolumeInUseException>().WithMessage("*child*");

        lab.Rbd(["rm", "--no-progress", .. at, "--image", "child"]);
        var removing = service.Plan(new RemoveSnapshotRequest(volume, "base"));
        service.Apply(removing);

        removing.Steps.Select(s => s.Split(' ').SkipWhile(a => a != "snap").Skip(1).First()).Should().Equal("unprotect", "rm");
        steps.Should().Equal(removing.Steps);
        service.List(volume).Should().BeEmpty();
    }

    [CephFact]
    public void While_another_client_has_the_image_open_a_rollback_is_refused_and_a_snapshot_needs_AllowUnpausedWrites()
    {
        var (context, settings, volume) = PoolWithVolume();
        var service = new SnapshotService(context);
        service.Create(volume, "calm");
        using var watch = lab.Watch(settings, "disk");

        var restore = () => service.Plan(new RestoreSnapshotRequest(volume, "calm"));
        var snapshot = () => service.Plan(new NewSnapshotRequest(volume, "busy"));
        var allowed = service.Plan(new NewSnapshotRequest(volume, "busy") { AllowUnpausedWrites = true });

        restore.Should().Throw<VolumeInUseException>().WithMessage("*RBD watchers*");
        snapshot.Should().Throw<VolumeInUseException>().WithMessage("*-AllowUnpausedWrites*");
        allowed.Consistency.Should().Be(WriteConsistency.Unfrozen);
        allowed.Warnings.Should().ContainSingle().Which.Should().Contain("cannot be paused");
        service.Apply(allowed).Name.Should().Be("busy");
    }

    [CephFact]
    public void A_name_that_is_taken_is_refused_by_the_plan()
    {
        var (context, _, volume) = PoolWithVolume();
        var service = new SnapshotService(context);
        service.Create(volume, "once");

        var again = () => service.Plan(new NewSnapshotRequest(volume, "once"));

        again.Should().Throw<ResourceExistsException>().Which.ErrorId.Should().Be("SnapshotExists");
    }

    [CephFact]
    public void A_linked_copy_is_an_rbd_clone_of_a_protected_snapshot_and_a_full_copy_a_deep_copy_both_with_the_source_data()
    {
        var (context, settings, volume) = PoolWithVolume();
        WritePattern(settings, "disk", 0x33);
        var copy = new CephVolumeCopy(context);

        var linking = copy.Plan((volume, new Copying.CopyVolumeRequest { Destination = "linked", Linked = true }));
        new VolumeCatalog(context).ByName(["*"], PoolName).Should().ContainSingle("a plan changes nothing");
        var linked = copy.Apply(linking);
        steps.Should().Equal(linking.Steps);
        steps.Clear();
        var copying = copy.Plan((volume, new Copying.CopyVolumeRequest { Destination = "full" }));
        var full = copy.Apply(copying);

        steps.Should().Equal(copying.Steps);
        linking.Steps.Should().SatisfyRespectively(
            s => s.Should().Contain(" snap create --no-progress --image disk --snap clone-linked "),
            s => s.Should().Contain(" snap protect --image disk --snap clone-linked "),
            s => s.Should().Contain(" clone --image disk --snap clone-linked --dest linked "));
        copying.Steps.Should().ContainSingle().Which.Should().Contain(" deep cp ");
        linked.BackingFile.Should().Be($"{volume.Path}@clone-linked");
        full.BackingFile.Should().BeNull();
        FirstByte(settings, "linked").Should().Be(0x33);
        FirstByte(settings, "full").Should().Be(0x33);
        var removal = () => new SnapshotService(context).Plan(new RemoveSnapshotRequest(volume, "clone-linked"));
        removal.Should().Throw<VolumeInUseException>("the clone reads through the snapshot");
    }

    /// <summary>Writes 1 MiB of one byte value at the start of the image through qemu's rbd driver, as client.admin.</summary>
    private void WritePattern(CephPoolSettings settings, string image, byte value) =>
        new ProcessRunner().RunChecked(new ToolCommand("qemu-io", "-f", "raw", QemuFileName(settings, image), "-c", $"write -P 0x{value:x2} 0 1M"));

    private byte FirstByte(CephPoolSettings settings, string image)
    {
        var file = root.Combine($"{image}-{Guid.NewGuid():N}.raw");
        lab.Rbd("export", "--no-progress", "--pool", settings.Pool, "--namespace", settings.Namespace!, "--image", image, file);
        using var stream = File.OpenRead(file);
        var first = (byte)stream.ReadByte();
        stream.Dispose();
        File.Delete(file);
        return first;
    }

    private string QemuFileName(CephPoolSettings settings, string image) =>
        $"rbd:{settings.Pool}/{settings.Namespace}/{image}:conf={lab.ConfigPath}:id=admin:keyring={lab.AdminKeyring}";

    public void Dispose() => root.Dispose();
}
