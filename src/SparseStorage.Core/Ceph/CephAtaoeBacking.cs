using SparseStorage.Core.Aoe;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// What vblade serves when a Ceph volume is exported over AoE: the image as a file (<see cref="RbdExport"/>:
/// qemu-storage-daemon, qemu's rbd driver, FUSE). A writable export is a writer like a read-write mount, so it first
/// takes this host's mount lock (<see cref="RbdMountLock"/>) and is refused while another host holds it. Stopping the
/// export stops vblade first (the service does), then the daemon, then releases the lock.
/// </summary>
public sealed class CephAtaoeBacking
{
    private readonly StorageContext context;
    private readonly CephPoolSettings settings;
    private readonly string image;
    private readonly bool readOnly;
    private readonly RbdExport export;

    private CephAtaoeBacking(StorageContext context, CephPoolSettings settings, string image, bool readOnly)
    {
        this.context = context;
        this.settings = settings;
        this.image = image;
        this.readOnly = readOnly;
        export = new RbdExport(context, settings, image, readOnly);
    }

    /// <summary>The backing of an export of <paramref name="volumePath"/>, or null when it is a file volume (vblade serves the file itself).</summary>
    public static CephAtaoeBacking? For(StorageContext context, string volumePath, bool readOnly)
    {
        if (!CephPoolSettings.IsRbdPath(volumePath))
            return null;
        foreach (var definition in context.Pools.Definitions().Where(d => d.IsCeph))
            if (definition.Ceph!.ImageOf(volumePath) is { } image)
                return new CephAtaoeBacking(context, definition.Ceph, image, readOnly);
        throw new PathOutsidePoolException($"'{volumePath}' names no image of a registered Ceph pool; register its pool with Register-StoragePool -CephPool.", volumePath);
    }

    /// <summary>The file vblade serves: the image's FUSE export.</summary>
    public string ServedFile => export.ExportPath;

    private string Holder => RbdMountLock.HolderOf(context.Runtime);

    /// <summary>
    /// Refuses a volume this host already has open (one FUSE export per volume: mounted, or exported already) and, for a
    /// writable export, a volume another host holds the mount lock of.
    /// </summary>
    public void RequireExportable(SparseVolume volume)
    {
        if (volume.IsAttached || FuseExportRecord.Read(context.Runtime.FuseExports, volume.Path) is not null)
            throw new VolumeInUseException(
                $"Volume '{volume.Name}' is {(volume.IsMounted ? $"mounted at {volume.MountPoint}" : "attached (FUSE export)")} on this host; a Ceph volume is exported over AoE only while this host does not use it. Dismount it, or stop its other export (Stop-AtaoeExport, also one whose vblade died), first.",
                volume.Path);
        if (readOnly)
            return;
        if (RbdMountLock.Locks(context.Runner, settings, image).FirstOrDefault() is { } held)
            throw new VolumeInUseException(
                $"Volume '{volume.Name}' is mounted read-write by {held.Describe()}; only one host may write it. Dismount it there, or export it with -ReadOnly.", volume.Path);
    }

    /// <summary>The steps before vblade starts: this host's lock (writable exports), then the daemon.</summary>
    public IReadOnlyList<string> StartSteps => readOnly ? [export.StartStep] : [RbdMountLock.Add(settings, image, Holder).ToString(), export.StartStep];

    /// <summary>Takes the lock and starts the daemon, each undone (in reverse) if a later step fails; the export then belongs to the host, not to this session.</summary>
    public void Start(StepRunner steps, Stack<Action> undo)
    {
        if (!readOnly)
        {
            steps.Tool(RbdMountLock.Add(settings, image, Holder));
            undo.Push(ReleaseOwnLock);
        }
        if (export.Start(steps) is { } record)
            undo.Push(() => context.FuseExporter().Stop(record, CancellationToken.None));
    }

    /// <summary>Hands the started daemon over to the host, so that the leftover sweep keeps it while vblade serves it.</summary>
    public void Release() => context.FuseExporter().Release(export.VolumePath);

    /// <summary>The steps after vblade has stopped: the daemon (if it still has a record), then this host's lock (if it still holds it).</summary>
    public IReadOnlyList<string> StopSteps()
    {
        var dryRun = StepRunner.ForPlan(context);
        Stop(dryRun);
        return dryRun.Steps;
    }

    public void Stop(StepRunner steps)
    {
        if (FuseExportRecord.Read(context.Runtime.FuseExports, export.VolumePath) is { } record)
            steps.Do($"stop qemu-storage-daemon (pid {record.ProcessId}) exporting {record.VolumePath} at {record.ExportPath}",
                () => context.FuseExporter().Stop(record, steps.Cancellation));
        if (OwnLock() is { } own)
            steps.Tool(RbdMountLock.Remove(settings, image, own));
    }

    private RbdLock? OwnLock()
    {
        var description = RbdMountLock.DescriptionFor(Holder);
        return RbdMountLock.Locks(context.Runner, settings, image).FirstOrDefault(l => l.Description == description);
    }

    private void ReleaseOwnLock()
    {
        if (OwnLock() is { } own)
            context.Runner.RunChecked(RbdMountLock.Remove(settings, image, own), CancellationToken.None);
    }
}
