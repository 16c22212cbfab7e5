using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Host;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Leftovers;

/// <summary>
/// Removes what operations killed mid-way (kill -9, a crash, a power cut of the session) left behind, but only what
/// it can prove is the module's and dead: a FUSE export whose record names an owner process that is gone (or whose
/// daemon is gone), a key file in /dev/shm whose name carries a process that is gone, a work file whose name does.
/// A process is told apart from a later one with the same pid by its start time. A daemon that backs a loop device
/// is never stopped: that volume is reported for Lock-Volume or Dismount-SparseVolume instead. Cheap enough
/// to run at the start of listings, mounts and unlocks: a few directory listings.
/// </summary>
public sealed class LeftoverSweeper(StorageContext context)
{
    /// <summary>Filesystems another host may share: a process missing here may run there, so nothing is proven dead.</summary>
    private static readonly HashSet<string> SharedFileSystems = new(StringComparer.Ordinal)
    {
        "nfs", "nfs4", "cifs", "smb3", "ceph", "glusterfs", "fuse.glusterfs", "9p", "lustre", "gfs2", "ocfs2", "fuse.sshfs", "fuse.cephfs",
    };

    private readonly FuseExporter exporter = context.FuseExporter();

    /// <summary>Sweeps FUSE exports first (a daemon may hold a work file open), then key files, then every pool's work files.</summary>
    public SweepReport Sweep()
    {
        var report = new SweepReport();
        SweepExports(report);
        SweepSecrets(report);
        var mounts = MountTable.Read();
        foreach (var pool in context.Pools.DirectoryDefinitions())
            SweepWorkFiles(PartialFiles.InPool(pool.Path), MountTable.Containing(mounts, pool.Path), report);
        return report;
    }

    /// <summary>Sweeps the work files directly in one directory outside the pools (a backup destination's volume folder).</summary>
    public SweepReport SweepDirectory(string directory)
    {
        var report = new SweepReport();
        SweepWorkFiles(PartialFiles.In(directory), MountTable.Containing(MountTable.Read(), directory), report);
        return report;
    }

    private void SweepExports(SweepReport report)
    {
        var attachments = context.ReadAttachments();
        foreach (var found in FuseExportRecord.ReadAll(context.Runtime.FuseExports))
        {
            try
            {
                using var volumeLock = context.LockVolume(found.VolumePath, TimeSpan.Zero);
                if (FuseExportRecord.Read(context.Runtime.FuseExports, found.VolumePath) is { } record)
                    SweepExport(record, attachments, report);
            }
            catch (VolumeLockedException)
            {
                // An operation works on this volume now; it is not a leftover.
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or SparseStorageException)
            {
                report.AddKept($"FUSE export of {found.VolumePath} (qemu-storage-daemon pid {found.ProcessId}): could not be cleaned up ({e.Message}).");
            }
        }
    }

    private void SweepExport(FuseExportRecord record, AttachmentState attachments, SweepReport report)
    {
        if (record.ProcessId == 0 && record.Owner is { IsAlive: true })
            return; // its daemon is starting
        if (record.ProcessId == 0 && FuseExportRecord.FindDaemonWith(record.PidFile) is { } unrecorded)
            record = record with { ProcessId = unrecorded }; // killed after qemu forked but before it wrote its pid file
        var daemonAlive = record.IsDaemonAlive;
        if (daemonAlive && !record.IsOwnerGone)
            return; // an unlocked or mounted volume, or an operation at work
        var what = daemonAlive
            ? $"qemu-storage-daemon pid {record.ProcessId} exporting {record.VolumePath}, started by process {record.Owner!.Value.ProcessId}, which died before it finished"
            : $"the record and FUSE mount of {record.VolumePath}, whose qemu-storage-daemon{(record.ProcessId > 0 ? $" pid {record.ProcessId}" : "")} is gone";
        if (attachments.Of(record.VolumePath).LoopDevice is { } loop)
        {
            report.AddKept($"{what}: kept, since loop device {loop} uses its export; run Lock-Volume or Dismount-SparseVolume on the volume.");
            return;
        }
        exporter.Stop(record, CancellationToken.None);
        report.AddRemoved(daemonAlive ? $"stopped {what}" : $"removed {what}");
    }

    private static void SweepSecrets(SweepReport report)
    {
        if (!Directory.Exists(SecretFile.TmpfsRoot))
            return;
        foreach (var directory in Directory.EnumerateDirectories(SecretFile.TmpfsRoot, "sparsestorage-secret-*"))
        {
            try
            {
                if (SecretFile.OwnerOf(Path.GetFileName(directory)) is not { IsAlive: false } owner || !SecretFile.IsOwnDirectory(directory))
                    continue;
                SecretFile.Destroy(directory);
                report.AddRemoved($"destroyed key file {directory} left by process {owner.ProcessId}, which is gone");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Removed meanwhile, or another user's: nothing this session can prove or change.
            }
        }
    }

    private static void SweepWorkFiles(IEnumerable<string> entries, MountEntry? fileSystem, SweepReport report)
    {
        if (fileSystem is not null && SharedFileSystems.Contains(fileSystem.FileSystemType))
            return;
        foreach (var entry in entries)
        {
            if (SiblingFile.OwnerOf(Path.GetFileName(entry)) is not { IsAlive: false } owner)
                continue;
            try
            {
                var bytes = PartialFiles.AllocatedBytes(entry);
                PartialFiles.Remove(entry);
                report.AddRemoved($"removed work file {entry} ({ByteSize.Format(bytes)}) left by process {owner.ProcessId}, which is gone");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                report.AddKept($"work file {entry} left by process {owner.ProcessId}, which is gone: could not be removed ({e.Message}).");
            }
        }
    }
}
