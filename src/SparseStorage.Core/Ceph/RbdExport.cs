using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// An RBD image as a file: qemu-storage-daemon opens it with qemu's rbd driver (librbd, no kernel module) and exports
/// it over FUSE, for the steps that need a file (mkfs, wiping, cryptsetup on the LUKS header). With a keyring file, the
/// client's key reaches qemu as a secret file on tmpfs that is removed once the daemon has started. With
/// <see cref="Decrypts"/>, the image holds a LUKS1 container and the file is its plaintext: qemu's luks driver stacked
/// on the rbd node, opened with <see cref="Key"/>, which reaches qemu the same way.
/// </summary>
public sealed class RbdExport(StorageContext context, CephPoolSettings settings, string image, bool readOnly = false)
{
    private readonly FuseExporter exporter = context.FuseExporter();

    /// <summary>Export the plaintext of the LUKS1 container the image holds.</summary>
    public bool Decrypts { get; init; }

    /// <summary>The key that opens the container; needed only to start a decrypting export, not to show its step.</summary>
    public VolumeKey? Key { get; init; }

    /// <summary>Trims pass down to the image (always for a plain export; for plaintext only when asked: holes show which sectors are free).</summary>
    public bool AllowDiscards { get; init; }

    /// <summary>The dismount of the mount that started this export stops it (and so locks the volume again).</summary>
    public bool LockWithDismount { get; init; }

    public string VolumePath => settings.ImagePath(image);

    /// <summary>The file the image appears as while exported.</summary>
    public string ExportPath => FuseExportRecord.ExportPathFor(context.Runtime.FuseExports, VolumePath);

    /// <summary>The daemon's command line as a step shows it: the key files, made only when it starts, as placeholders.</summary>
    public string StartStep => exporter.StartCommand(VolumePath, Options(settings.Keyring is null ? null : SecretFile.Placeholder(), Decrypts ? SecretFile.Placeholder() : null)).ToString();

    public string StopStep => $"stop the qemu-storage-daemon exporting {VolumePath} at {ExportPath}";

    /// <summary>Starts the export (in a dry run only records the step); null in a dry run. A wrong key throws <see cref="WrongKeyException"/>.</summary>
    public FuseExportRecord? Start(StepRunner steps) =>
        steps.Measure<FuseExportRecord?>(StartStep, () => Start(steps.Cancellation), null);

    /// <summary>Starts the export now, outside any step.</summary>
    public FuseExportRecord Start(CancellationToken cancellationToken)
    {
        if (Decrypts && Key is null)
            throw new InvalidOperationException("A decrypting export needs its key.");
        using var cephKey = settings.Keyring is null ? null : CephKeyring.ReadKey(settings);
        using var secret = cephKey is null ? null : new SecretFile(cephKey);
        using var passphrase = Decrypts ? new SecretFile(Key!) : null;
        return exporter.Start(VolumePath, Options(secret, passphrase), cancellationToken);
    }

    public void Stop(StepRunner steps, FuseExportRecord? record) =>
        steps.Undo(StopStep, () =>
        {
            if (record is not null)
                exporter.Stop(record, CancellationToken.None);
        });

    private FuseExportOptions Options(SecretFile? secret, SecretFile? passphrase) =>
        new(Decrypts ? ExportLayer.RbdLuks : ExportLayer.Rbd, ReadOnly: readOnly, Discards: !readOnly && (!Decrypts || AllowDiscards), Secret: secret, LockWithDismount)
        {
            RbdBlockdev = "driver=rbd" +
                          $",pool={FuseExporter.Escape(settings.Pool)}" +
                          (settings.Namespace is null ? "" : $",namespace={FuseExporter.Escape(settings.Namespace)}") +
                          $",image={FuseExporter.Escape(image)},conf={FuseExporter.Escape(settings.ConfigPath)},user={FuseExporter.Escape(settings.User)}",
            Passphrase = passphrase,
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
