using SparseStorage.Core.Devices;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Maintenance;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// Test-SparseVolume of an RBD image: its size against its filesystem's, and the filesystem checked read-only
/// (e2fsck -n, xfs_repair -n, btrfs check --readonly) on a read-only FUSE export of the image, which takes no lock and
/// writes nothing. A volume in use — mounted or exported on this host, mounted read-write on another, or open by another
/// client (RBD watchers) — is not checked: its filesystem would change under the check and show errors it does not have.
/// </summary>
public sealed class CephVolumeChecker(StorageContext context)
{
    public VolumeTestResult Test(SparseVolume volume, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var (pool, image) = CephImages.Resolve(context, volume.Path);
        var current = pool.Volume(image, cancellationToken, context.ReadAttachments());
        var steps = new StepRunner(context.Runner, dryRun: false, progress, $"Checking {current.Name}", cancellationToken);
        var findings = new List<VolumeFinding>();
        VolumeChecker.CheckImageSize(current, findings);
        if (InUse(current, pool, image) is { } use)
            findings.Add(new VolumeFinding("filesystem", FindingSeverity.Information, $"Not checked: the volume is {use}; its filesystem changes while it is checked."));
        else if (current.Encryption != "None")
            findings.Add(new VolumeFinding("filesystem", FindingSeverity.Information, $"Not checked: the volume is encrypted ({current.Encryption}); unlock it first."));
        else
            CheckFileSystem(current, pool.Settings, image, steps, findings);
        return new VolumeTestResult
        {
            Name = current.Name, Path = current.Path, Format = current.Format, FileSystem = current.FileSystem,
            Findings = findings, Checks = steps.Steps,
        };
    }

    private string? InUse(SparseVolume volume, CephPool pool, string image)
    {
        if (volume.IsAttached)
            return volume.IsMounted ? $"mounted at {volume.MountPoint}" : volume.IsUnlocked ? "unlocked on this host" : "attached on this host";
        if (FuseExportRecord.Read(context.Runtime.FuseExports, volume.Path) is not null)
            return "exported on this host";
        if (volume.MountedOn is { } holder)
            return $"mounted read-write on host '{holder}'";
        var watchers = CephImages.State(context, pool, image, watchers: true).Watchers ?? [];
        return watchers.Count > 0 ? $"open by {string.Join(", ", watchers)} (RBD watchers)" : null;
    }

    private void CheckFileSystem(SparseVolume volume, CephPoolSettings settings, string image, StepRunner steps, List<VolumeFinding> findings)
    {
        if (FileSystemRules.ReadOnlyCheck(volume.FileSystem, "") is null)
        {
            findings.Add(new VolumeFinding("filesystem", FindingSeverity.Information, $"No filesystem check for {volume.FileSystem}."));
            return;
        }
        var export = new RbdExport(context, settings, image, readOnly: true);
        var record = export.Start(steps);
        try
        {
            var (command, errorCodes) = FileSystemRules.ReadOnlyCheck(volume.FileSystem, export.ExportPath)!.Value;
            VolumeChecker.AddFileSystemFinding(volume, command, errorCodes, steps.Tool(command), findings);
        }
        finally
        {
            export.Stop(steps, record);
        }
    }
}
