using System.Text.Json.Nodes;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Snapshots;

/// <summary>
/// Internal snapshots of qcow2 volumes. Listed natively from the image's snapshot table; created and deleted with
/// qemu-img, or through the QMP socket of the module's own qemu-storage-daemon while the volume is mounted
/// (qemu-img cannot take the image lock the daemon holds).
/// </summary>
internal sealed class Qcow2InternalSnapshots(StorageContext context)
{
    private const string DiskNode = "disk0";

    public static IEnumerable<VolumeSnapshot> List(SparseVolume volume)
    {
        using var image = Libc.Open(volume.Path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        var head = new byte[4096];
        var header = Qcow2Header.Parse(head.AsSpan(0, RandomAccess.Read(image, head, 0)));
        return Qcow2SnapshotTable.Read(image, header)
            .Select(entry => VolumeSnapshot.Of(volume, entry.Name, entry.Id, SnapshotKind.Qcow2Internal, entry.CreatedUtc,
                entry.DiskSize ?? volume.SizeBytes, vmStateSizeBytes: entry.VmStateSize))
            .ToList();
    }

    /// <summary>qemu-img snapshot with its action letter: c creates, a applies (reverts to), d deletes.</summary>
    private static ToolCommand QemuImgSnapshot(char action, string path, string name) => new("qemu-img", "snapshot", $"-{action}", name, path);

    public void Create(SparseVolume volume, VolumeAttachment attachment, string name, CancellationToken cancellationToken)
    {
        if (LiveExport(attachment) is { } export)
            Monitor(export, "blockdev-snapshot-internal-sync", new JsonObject { ["device"] = DiskNode, ["name"] = name });
        else
            context.Runner.RunChecked(QemuImgSnapshot('c', volume.Path, name), cancellationToken);
    }

    public void Apply(VolumeSnapshot snapshot, CancellationToken cancellationToken) =>
        context.Runner.RunChecked(QemuImgSnapshot('a', snapshot.VolumePath, snapshot.Name) with { Timeout = TimeSpan.FromHours(2) }, cancellationToken);

    public void Delete(VolumeSnapshot snapshot, VolumeAttachment attachment, CancellationToken cancellationToken)
    {
        if (LiveExport(attachment) is { } export)
            Monitor(export, "blockdev-snapshot-delete-internal-sync", new JsonObject { ["device"] = DiskNode, ["id"] = snapshot.Id, ["name"] = snapshot.Name });
        else
            context.Runner.RunChecked(QemuImgSnapshot('d', snapshot.VolumePath, snapshot.Name), cancellationToken);
    }

    private static FuseExportRecord? LiveExport(VolumeAttachment attachment) =>
        attachment.FuseExport is { IsDaemonAlive: true } export ? export : null;

    private static void Monitor(FuseExportRecord export, string command, JsonObject arguments)
    {
        using var monitor = QmpClient.Connect(export.MonitorSocketPath, TimeSpan.FromSeconds(60));
        monitor.Execute(command, arguments);
    }
}
