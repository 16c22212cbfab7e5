using System.Security.Cryptography;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Maintenance;
using SparseStorage.Core.Volumes.Resize;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// What a tenant who can place any file in a pool tries, against real files, images, loop devices and qemu: each
/// attack is refused before any tool runs, nothing outside the tenant's volume changes (hashes), and nothing is left.
/// </summary>
public sealed class HostileTenantTests : IDisposable
{
    private readonly TestPool pool = new();
    private readonly SpyRunner runner;
    private readonly StorageContext context;
    private readonly string outside;
    private readonly string outsideHash;

    public HostileTenantTests()
    {
        runner = new SpyRunner(new ProcessRunner());
        context = pool.Context(runner);
        outside = pool.Combine("host-secret.bin");
        File.WriteAllBytes(outside, RandomNumberGenerator.GetBytes(1 << 20));
        outsideHash = Files.HashFile(outside);
    }

    public void Dispose() => pool.Dispose();

    private string InPool(string name) => Path.Combine(pool.PoolPath, name);

    private SparseVolume Listed(string name) =>
        new VolumeCatalog(context).ByName(["*"]).Single(v => v.Name == name);

    private void AssertOutsideUnchanged()
    {
        Files.HashFile(outside).Should().Be(outsideHash, "nothing outside the tenant's volume may change");
        new FileInfo(outside).Length.Should().Be(1 << 20);
    }

    private void Run(params string[] command) => new ProcessRunner().RunChecked(new ToolCommand(command[0], command[1..]));

    [IntegrationFact]
    public void A_hard_link_to_an_outside_file_is_listed_as_broken_and_never_wiped()
    {
        Run("ln", outside, InPool("evil.img"));

        var listed = Listed("evil");
        listed.IsBroken.Should().BeTrue();
        listed.BrokenReason.Should().Contain("2 hard links");
        FluentActions.Invoking(() => new VolumeRemover(context).Remove(listed, wipe: true))
            .Should().Throw<UnsafeVolumeFileException>().Which.ErrorId.Should().Be("UnsafeVolumeFile");

        AssertOutsideUnchanged();
        File.Exists(InPool("evil.img")).Should().BeTrue("a refused removal changes nothing");
    }

    [IntegrationFact]
    public void A_symbolic_link_in_a_pool_is_listed_as_broken_and_neither_resized_nor_wiped()
    {
        File.CreateSymbolicLink(InPool("evil.img"), outside);

        var listed = Listed("evil");
        listed.IsBroken.Should().BeTrue();
        listed.BrokenReason.Should().Contain("symbolic link");
        FluentActions.Invoking(() => new VolumeRemover(context).Remove(listed, wipe: true)).Should().Throw<SparseStorageException>();
        FluentActions.Invoking(() => new VolumeResizer(context).Resize(ResizeRequest.To(listed, ByteSize.FromMiB(1))))
            .Should().Throw<SparseStorageException>();

        AssertOutsideUnchanged();
        runner.Commands.Should().BeEmpty("no tool may be handed a link");
    }

    [IntegrationFact]
    public void A_symbolic_link_inside_the_pool_to_another_volume_is_not_a_second_name_for_it()
    {
        var victim = pool.CreateVolume(context, "victim", ByteSize.FromMiB(16), fileSystem: FileSystemType.None);
        var hash = Files.HashFile(victim.Path);
        File.CreateSymbolicLink(InPool("alias.img"), victim.Path);

        var alias = Listed("alias");
        alias.IsBroken.Should().BeTrue();
        Listed("victim").IsBroken.Should().BeFalse();
        FluentActions.Invoking(() => new VolumeRemover(context).Remove(alias, wipe: true)).Should().Throw<SparseStorageException>();
        Files.HashFile(victim.Path).Should().Be(hash, "wiping the alias must not wipe the volume it points at");
        File.Exists(victim.Path).Should().BeTrue();
    }

    [IntegrationFact("mkfifo", "mknod")]
    public void Fifos_and_device_nodes_named_as_images_are_listed_as_broken_without_blocking_the_listing()
    {
        var good = pool.CreateVolume(context, "good", ByteSize.FromMiB(16), fileSystem: FileSystemType.None);
        Run("mkfifo", InPool("fifo.img"));
        Run("mknod", InPool("null.img"), "c", "1", "3");

        var listing = Task.Run(() => new VolumeCatalog(context).ByName(["*"]).ToList());
        listing.Wait(TimeSpan.FromSeconds(20)).Should().BeTrue("a FIFO must not block the listing");

        var volumes = listing.Result;
        volumes.Should().Contain(v => v.Path == good.Path && !v.IsBroken);
        volumes.Single(v => v.Name == "fifo").BrokenReason.Should().Contain("FIFO");
        volumes.Single(v => v.Name == "null").BrokenReason.Should().Contain("character device");
        FluentActions.Invoking(() => new VolumeRemover(context).Remove(volumes.Single(v => v.Name == "null"), wipe: true))
            .Should().Throw<UnsafeVolumeFileException>();
        File.Exists(InPool("null.img")).Should().BeTrue();
    }

    [IntegrationFact("qemu-img", "losetup", "mount")]
    public void A_qcow2_data_file_outside_the_pool_is_refused_before_any_tool_runs()
    {
        var evil = InPool("evil.qcow2");
        var data = pool.Combine("outside-data.raw");
        Run("qemu-img", "create", "-q", "-f", "qcow2", "-o", $"data_file={data}", evil, "1M");
        File.Delete(data);
        File.CreateSymbolicLink(data, outside); // the header names a file whose bytes are the host's

        var listed = Listed("evil");
        listed.IsBroken.Should().BeTrue();
        listed.BrokenReason.Should().Contain("external data file").And.Contain("outside pool");
        listed.DataFile.Should().Be(data);
        runner.Commands.Clear();

        FluentActions.Invoking(() => new VolumeResizer(context).Resize(ResizeRequest.To(listed, ByteSize.FromMiB(4))))
            .Should().Throw<ImageReferenceOutsidePoolException>();
        FluentActions.Invoking(() => new VolumeMounter(context).Mount(listed, pool.Combine("mnt"), readOnly: false))
            .Should().Throw<ImageReferenceOutsidePoolException>();
        FluentActions.Invoking(() => new VolumeOptimizer(context).Optimize(listed))
            .Should().Throw<ImageReferenceOutsidePoolException>();

        runner.Commands.Should().BeEmpty("the refusal comes before any tool");
        AssertOutsideUnchanged();
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("qemu-img", "losetup", "mount")]
    public void An_overlay_on_another_pools_volume_can_neither_read_it_nor_lock_its_owner_out()
    {
        var otherPool = pool.Combine("other");
        Directory.CreateDirectory(otherPool);
        pool.Pools.Register("other", otherPool);
        var victimPath = Path.Combine(otherPool, "victim.img");
        File.WriteAllBytes(victimPath, RandomNumberGenerator.GetBytes(1 << 20));
        var overlay = InPool("spy.qcow2");
        Run("qemu-img", "create", "-q", "-f", "qcow2", "-b", victimPath, "-F", "raw", overlay);

        var spy = Listed("spy");
        spy.IsBroken.Should().BeTrue();
        spy.BrokenReason.Should().Contain("backing file").And.Contain("outside pool 'test'");
        runner.Commands.Clear();
        FluentActions.Invoking(() => new VolumeMounter(context).Mount(spy, pool.Combine("mnt"), readOnly: true))
            .Should().Throw<ImageReferenceOutsidePoolException>();
        runner.Commands.Should().BeEmpty();

        var victim = new VolumeCatalog(context).ByName(["victim"], "other").Single();
        new BackingChains(context).DependantsOf(victim.Path).Should().BeEmpty("a foreign overlay is not a linked clone");
        new VolumeRemover(context).Remove(victim, wipe: false);
        File.Exists(victimPath).Should().BeFalse("the owner removes their own volume");
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("qemu-img")]
    public void A_backing_file_outside_every_pool_or_given_as_a_protocol_string_is_refused()
    {
        var direct = InPool("direct.qcow2");
        Run("qemu-img", "create", "-q", "-f", "qcow2", "-b", outside, "-F", "raw", direct);
        var protocol = InPool("protocol.qcow2");
        Run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", $"json:{{\"file.filename\":\"{outside}\"}}", "-F", "raw", protocol, "1M");

        Listed("direct").BrokenReason.Should().Contain("outside pool");
        Listed("protocol").BrokenReason.Should().Contain("not a plain file name");
        FluentActions.Invoking(() => new VolumeCatalog(context).Get(direct)).Should().Throw<ImageReferenceOutsidePoolException>();
        AssertOutsideUnchanged();
    }

    [IntegrationFact("qemu-img")]
    public void A_linked_clone_into_another_pool_is_refused_before_anything_is_made()
    {
        var @base = pool.CreateVolume(context, "base", ByteSize.FromMiB(16), fileSystem: FileSystemType.None);
        var otherPool = pool.Combine("other");
        Directory.CreateDirectory(otherPool);
        pool.Pools.Register("other", otherPool);
        runner.Commands.Clear();

        FluentActions.Invoking(() => new Copying.VolumeCopier(context).Plan(@base, new Copying.CopyVolumeRequest { Destination = otherPool, Linked = true }))
            .Should().Throw<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("BaseOutsidePool");
        Directory.EnumerateFileSystemEntries(otherPool).Should().BeEmpty();
        runner.Commands.Should().BeEmpty();
    }

    [IntegrationFact("qemu-img")]
    public void A_linked_clone_in_its_own_pool_is_opened_with_its_checked_chain_named_explicitly()
    {
        var @base = pool.CreateVolume(context, "base", ByteSize.FromMiB(16), fileSystem: FileSystemType.None);
        var clone = InPool("clone.qcow2");
        Run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.img", "-F", "raw", clone);
        var plain = pool.CreateVolume(context, "plain", ByteSize.FromMiB(16), VolumeFormat.Qcow2, FileSystemType.None);
        var references = new ImageReferences(pool.Pools.Definitions());

        Listed("clone").IsBroken.Should().BeFalse();
        references.QemuOptions(clone).Should().Be($",backing.driver=raw,backing.file.driver=file,backing.file.filename={@base.Path}");
        references.QemuOptions(plain.Path).Should().Be(",backing=", "qemu must not look for a backing file the header might name later");
        references.QemuOptions(@base.Path).Should().BeEmpty("a raw image refers to nothing");
    }

    [IntegrationFact]
    public void A_snapshot_file_swapped_for_a_link_to_a_host_file_is_never_copied_into_the_volume()
    {
        var volume = pool.CreateVolume(context, "tenant", ByteSize.FromMiB(1), fileSystem: FileSystemType.None);
        var snapshots = new Snapshots.SnapshotService(context);
        var snapshot = snapshots.Create(volume, "before");
        var volumeHash = Files.HashFile(volume.Path);
        File.Delete(snapshot.SnapshotPath!);
        File.CreateSymbolicLink(snapshot.SnapshotPath!, outside);

        FluentActions.Invoking(() => snapshots.Restore(snapshots.Find(new VolumeCatalog(context).Get(volume.Path), "before")))
            .Should().Throw<UnsafeVolumeFileException>();
        Files.HashFile(volume.Path).Should().Be(volumeHash, "the host file's bytes never reach the tenant's volume");
        FluentActions.Invoking(() => Snapshots.RawSnapshotStore.Remove(snapshot, wipe: true, null, CancellationToken.None))
            .Should().Throw<UnsafeVolumeFileException>();
        AssertOutsideUnchanged();
        Directory.EnumerateFiles(pool.PoolPath, ".*", SearchOption.AllDirectories).Should().NotContain(f => f.Contains(SiblingFile.PartialMarker), "no partial copy is left");
    }

    [IntegrationFact("cryptsetup")]
    public void Wiping_a_crafted_luks_header_stays_within_the_file()
    {
        var image = InPool("crafted.img");
        var key = pool.Combine("key");
        File.WriteAllBytes(key, RandomNumberGenerator.GetBytes(32));
        File.WriteAllBytes(image, new byte[4 << 20]);
        Run("cryptsetup", "luksFormat", "--batch-mode", "--type", "luks1", "--key-file", key, "--pbkdf-force-iterations", "1000", image);
        using (var file = File.OpenWrite(image))
            file.SetLength(4096); // the header still claims its key material and a 2 MiB payload offset
        using var held = Native.Libc.Open(image, Native.Libc.O_RDONLY | Native.Libc.O_CLOEXEC, 0);
        var free = Native.Libc.Space(pool.PoolPath).AvailableBytes;

        new VolumeRemover(context).Remove(new VolumeCatalog(context).Get(image), wipe: true);

        File.Exists(image).Should().BeFalse();
        RandomAccess.GetLength(held).Should().Be(4096, "a wipe never makes a file longer");
        var bytes = new byte[4096];
        RandomAccess.Read(held, bytes, 0);
        bytes.Should().OnlyContain(b => b == 0, "a header the module does not trust is wiped whole, not crypto-erased by its own word");
        Native.Libc.Space(pool.PoolPath).AvailableBytes.Should().BeGreaterThan(free - (1 << 20));
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact]
    public void A_file_that_cannot_be_parsed_in_one_pool_stops_no_work_in_another()
    {
        var otherPool = pool.Combine("other");
        Directory.CreateDirectory(otherPool);
        pool.Pools.Register("other", otherPool);
        var poison = new byte[4096];
        new byte[] { (byte)'Q', (byte)'F', (byte)'I', 0xFB }.CopyTo(poison, 0);
        poison[7] = 99; // qcow2 version 99
        File.WriteAllBytes(InPool("poison.qcow2"), poison);
        var good = Path.Combine(otherPool, "good.img");
        File.WriteAllBytes(good, new byte[1 << 20]);

        Listed("poison").IsBroken.Should().BeTrue();
        var volume = new VolumeCatalog(context).ByName(["good"], "other").Single();
        new VolumeRemover(context).Remove(volume, wipe: true);
        File.Exists(good).Should().BeFalse();
    }
}
