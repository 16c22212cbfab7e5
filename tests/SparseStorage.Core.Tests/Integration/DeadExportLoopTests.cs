using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Host;
using SparseStorage.Core.Leftovers;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// A mounted volume whose qemu-storage-daemon exited: on SIGTERM qemu lifts its own FUSE mount lazily (as does
/// umount -l after a SIGKILL), and the kernel then shows the loop device's backing file as "/". No path names the loop
/// any more; the export's record does, and dismount, Lock-Volume and the sweep use it, so no loop device is left.
/// </summary>
[Collection(DeadFuseDaemonCollection.Name)]
public sealed class DeadExportLoopTests : IDisposable
{
    private const int SigTerm = 15;
    private const int SigKill = 9;
    private readonly LoopSnapshot loopsAtStart = new();
    private readonly TestPool pool = new();
    private readonly List<string> applied = [];
    private readonly StorageContext context;
    private readonly string mountPoint;

    public DeadExportLoopTests()
    {
        context = new StorageContext(pool.Pools, new ProcessRunner(), pool.Runtime, isRoot: true) { LockWait = TimeSpan.FromSeconds(2), Journal = new StepJournal(applied.Add) };
        mountPoint = pool.Combine("mnt");
    }

    [IntegrationTheory("qemu-storage-daemon", "qemu-img", "losetup", "mount", "mkfs.ext4")]
    [InlineData("SIGTERM")]
    [InlineData("SIGKILL, then its export unmounted lazily")]
    public void A_qcow2_volume_whose_daemon_is_gone_is_dismounted_with_its_mount_and_loop_device(string death)
    {
        var volume = pool.CreateVolume(context, "web", ByteSize.FromMiB(128), VolumeFormat.Qcow2);
        var mounted = new VolumeMounter(context).Mount(volume, mountPoint, readOnly: false);
        var loop = mounted.LoopDevice!;
        var daemon = KillDaemon(volume.Path, death == "SIGTERM" ? SigTerm : SigKill);
        if (death != "SIGTERM")
            new ProcessRunner().RunChecked(new ToolCommand("umount", "--lazy", FuseExportRecord.ExportPathFor(context.Runtime.FuseExports, volume.Path)));
        var broken = new VolumeCatalog(context).Get(volume.Path);
        var mounter = new VolumeMounter(context);

        var plan = mounter.Plan(new DismountVolumeRequest(broken));
        var unchanged = LoopDevices.Find(loop);
        applied.Clear();
        var dismounted = mounter.Apply(plan);

        unchanged!.IsBackingDetached.Should().BeTrue("the plan changed nothing, and the loop's backing file reads \"/\"");
        broken.LoopDevice.Should().Be(loop, "the export's record still names the loop");
        broken.MountPoint.Should().Be(mountPoint);
        broken.IsBroken.Should().BeTrue();
        plan.Steps.Should().Equal($"umount {mountPoint}", $"losetup --detach {loop}",
            $"remove the record of the FUSE export {FuseExportRecord.ExportPathFor(context.Runtime.FuseExports, volume.Path)}, whose qemu-storage-daemon (pid {daemon}) is gone");
        applied.Should().Equal(plan.Steps);
        dismounted.IsAttached.Should().BeFalse();
        FuseExportRecord.ReadAll(context.Runtime.FuseExports).Should().BeEmpty();
        loopsAtStart.LoopsSince().Should().BeEmpty("no loop device of this test remains, \"/\" ones included");
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("qemu-storage-daemon", "qemu-img", "losetup", "mount", "mkfs.ext4")]
    public void The_sweep_keeps_a_dead_export_whose_recorded_loop_is_still_attached_and_names_the_loop()
    {
        var volume = pool.CreateVolume(context, "kept", ByteSize.FromMiB(128), VolumeFormat.Qcow2);
        var loop = new VolumeMounter(context).Mount(volume, mountPoint, readOnly: false).LoopDevice!;
        KillDaemon(volume.Path, SigTerm);

        var report = new LeftoverSweeper(context).Sweep();
        var afterSweep = new VolumeCatalog(context).Get(volume.Path);

        report.Kept.Should().ContainSingle().Which.Should().Contain(loop).And.Contain("Dismount-SparseVolume");
        report.Removed.Should().BeEmpty();
        afterSweep.LoopDevice.Should().Be(loop, "the record that names the loop was kept");
        new VolumeMounter(context).Dismount(afterSweep).IsAttached.Should().BeFalse();
        loopsAtStart.LoopsSince().Should().BeEmpty();
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4")]
    public void An_encrypted_volume_whose_daemon_exited_is_locked_with_its_loop_device_detached()
    {
        using var key = VolumeKey.FromPassphrase("correct horse battery staple");
        var volume = Encrypting.Protect(context, pool.CreateVolume(context, "secret", ByteSize.FromMiB(128)), [key]);
        var loop = new VolumeMounter(context).Mount(volume, mountPoint, readOnly: false, [key], false).LoopDevice!;
        KillDaemon(volume.Path, SigTerm);
        var broken = new VolumeCatalog(context).Get(volume.Path);

        var locked = Encrypting.Lock(context, broken);

        broken.LoopDevice.Should().Be(loop);
        broken.IsBroken.Should().BeTrue();
        locked.IsAttached.Should().BeFalse();
        locked.IsUnlocked.Should().BeFalse();
        applied.Should().Contain($"losetup --detach {loop}");
        loopsAtStart.LoopsSince().Should().BeEmpty();
        pool.AssertNothingLeftBehind();
    }

    /// <summary>Sends the volume's daemon <paramref name="signal"/>, waits until it is gone and returns its pid.</summary>
    private int KillDaemon(string volumePath, int signal)
    {
        var daemon = context.ReadAttachments().Of(volumePath).FuseExport!.ProcessId;
        Libc.kill(daemon, signal);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (Directory.Exists($"/proc/{daemon}") && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        Directory.Exists($"/proc/{daemon}").Should().BeFalse("the daemon is gone");
        return daemon;
    }

    public void Dispose() => pool.Dispose();
}
