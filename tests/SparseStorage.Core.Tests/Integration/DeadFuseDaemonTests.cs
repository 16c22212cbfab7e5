using SparseStorage.Core.Encryption;
using SparseStorage.Core.Leftovers;
using SparseStorage.Core.Native;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// An unlocked volume whose qemu-storage-daemon is killed: its loop device stays mounted on a FUSE file nobody serves.
/// The volume shows as broken, the module says what blocks other work, and Lock-Volume cleans up without being asked to unmount.
/// </summary>
[Collection(DeadFuseDaemonCollection.Name)]
public sealed class DeadFuseDaemonTests : IDisposable
{
    private readonly TestPool pool = new();
    private readonly StorageContext context;
    private readonly string mountPoint;

    public DeadFuseDaemonTests()
    {
        context = pool.Context();
        mountPoint = pool.Combine("mnt");
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4")]
    public void A_killed_daemon_shows_as_broken_and_lock_cleans_it_up_without_dismount()
    {
        using var key = VolumeKey.FromPassphrase("correct horse battery staple");
        var broken = MountThenKillDaemon(key);

        broken.IsBroken.Should().BeTrue();
        broken.IsUnlocked.Should().BeFalse("the plaintext can no longer be read");
        var unlockAgain = () => Encrypting.Unlock(context, broken, [key]);
        unlockAgain.Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("VolumeBroken");

        var cleaned = Encrypting.Lock(context, broken);
        cleaned.IsBroken.Should().BeFalse();
        cleaned.IsAttached.Should().BeFalse();
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4", "mkfs.btrfs")]
    public void A_btrfs_volume_cannot_be_made_while_a_dead_daemon_is_mounted_and_the_error_names_the_mount()
    {
        using var key = VolumeKey.FromPassphrase("correct horse battery staple");
        var broken = MountThenKillDaemon(key);
        var request = new NewVolumeRequest { Name = "fresh", Pool = TestPool.Name, Size = ByteSize.FromMiB(256), FileSystem = FileSystemType.Btrfs };
        var creator = new VolumeCreator(context);

        var create = () => creator.Create(creator.Plan(request));

        var error = create.Should().Throw<StorageOperationException>().Which;
        error.ErrorId.Should().Be("UnreachableLoopMount");
        error.Message.Should().Contain(mountPoint).And.Contain("Lock-Volume");
        File.Exists(pool.Combine("pool", "fresh.img")).Should().BeFalse("nothing is left under the final name");
        Encrypting.Lock(context, broken);
        creator.Create(creator.Plan(request)).FileSystem.Should().Be(FileSystemType.Btrfs, "once the dead mount is cleared, mkfs.btrfs runs");
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4")]
    public void The_sweep_never_touches_a_dead_daemon_whose_export_backs_a_mounted_loop_device_and_says_what_to_run()
    {
        using var key = VolumeKey.FromPassphrase("correct horse battery staple");
        var broken = MountThenKillDaemon(key);
        var attachment = context.ReadAttachments().Of(broken.Path);

        var report = new LeftoverSweeper(context).Sweep();

        report.Kept.Should().ContainSingle().Which.Should().Contain(attachment.LoopDevice!).And.Contain("Lock-Volume");
        report.Removed.Should().BeEmpty();
        context.ReadAttachments().Of(broken.Path).Should().BeEquivalentTo(attachment, "the record, loop device and mount are all still there");
        Encrypting.Lock(context, broken).IsAttached.Should().BeFalse();
        pool.AssertNothingLeftBehind();
    }

    private SparseVolume MountThenKillDaemon(VolumeKey key)
    {
        var volume = Encrypting.Protect(context, pool.CreateVolume(context, "broken", ByteSize.FromMiB(256)), [key]);
        new VolumeMounter(context).Mount(volume, mountPoint, readOnly: false, [key], false);
        var daemon = context.ReadAttachments().Of(volume.Path).FuseExport!.ProcessId;
        Libc.kill(daemon, 9);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Directory.Exists($"/proc/{daemon}") && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        return new VolumeCatalog(context).Get(volume.Path);
    }

    public void Dispose() => pool.Dispose();
}
