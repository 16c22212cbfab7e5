using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// An RBD image as a file: qemu-storage-daemon opens it with qemu's rbd driver (librbd, no kernel module) and exports
/// it over FUSE, for the steps that need a file (mkfs, wiping). With a keyring file, the client's key reaches qemu as
/// a secret file on tmpfs that is removed once the daemon has started.
/// </summary>
public sealed class RbdExport(StorageContext context, CephPoolSettings settings, string image, bool readOnly = false)
{
    private readonly FuseExporter exporter = context.FuseExporter();

    public string VolumePath => settings.ImagePath(image);

    /// <summary>The file the image appears as while exported.</summary>
    public string ExportPath => FuseExportRecord.ExportPathFor(context.Runtime.FuseExports, VolumePath);

    /// <summary>The daemon's command line as a step shows it: the key file, made only when it starts, as a placeholder.</summary>
    public string StartStep => exporter.StartCommand(VolumePath, Options(settings.Keyring is null ? null : SecretFile.Placeholder())).ToString();

    public string StopStep => $"stop the qemu-storage-daemon exporting {VolumePath} at {ExportPath}";

    /// <summary>Starts the export (in a dry run only records the step); null in a dry run.</summary>
    public FuseExportRecord? Start(StepRunner steps) =>
        steps.Measure<FuseExportRecord?>(StartStep, () =>
        {
            using var key = settings.Keyring is null ? null : CephKeyring.ReadKey(settings);
            using var secret = key is null ? null : new SecretFile(key);
            return exporter.Start(VolumePath, Options(secret), steps.Cancellation);
        }, null);

    public void Stop(StepRunner steps, FuseExportRecord? record) =>
        steps.Undo(StopStep, () =>
        {
            if (record is not null)
                exporter.Stop(record, CancellationToken.None);
        });

    private FuseExportOptions Options(SecretFile? secret) =>
        new(ExportLayer.Rbd, ReadOnly: readOnly, Discards: !readOnly, Secret: secret)
        {
            RbdBlockdev = "driver=rbd,node-name=disk0" +
                          $",pool={FuseExporter.Escape(settings.Pool)}" +
                          (settings.Namespace is null ? "" : $",namespace={FuseExporter.Escape(settings.Namespace)}") +
                          $",image={FuseExporter.Escape(image)},conf={FuseExporter.Escape(settings.ConfigPath)},user={FuseExporter.Escape(settings.User)}",
        };
}

/// <summary>An image as a file for the filesystem tools of an offline change (resize, trim), for as long as it needs it.</summary>
internal sealed class RbdExportAsFile(RbdExport export) : IVolumeExport
{
    private FuseExportRecord? record;

    public string Start(StepRunner steps)
    {
        record = export.Start(steps);
        return export.ExportPath;
    }

    public void Stop(StepRunner steps) => export.Stop(steps, record);
}
