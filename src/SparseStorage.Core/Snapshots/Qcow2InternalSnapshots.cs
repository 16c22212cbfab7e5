using System.Text.Json.Nodes;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Snapshots;

/// <summary>
/// Internal snapshots of qcow2 volumes. Listed natively from the image's snapshot table; created and deleted with
/// qemu-img, or through the QMP socket of the module's own qemu-storage-daemon while the volume is mounted
/// (qemu-img cannot take the image lock the daemon holds).
/// </summary>
internal static class Qcow2InternalSnapshots
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

    public static void Create(SparseVolume volume, VolumeAttachment attachment, string name, StepRunner steps)
    {
        if (LiveExport(attachment) is { } export)
            steps.Do($"Create internal snapshot '{name}' of {volume.Path} through the monitor of qemu-storage-daemon (pid {export.ProcessId})",
                () => Monitor(export, "blockdev-snapshot-internal-sync", new JsonObject { ["device"] = DiskNode, ["name"] = name }));
        else
            steps.Tool(QemuImgSnapshot('c', volume.Path, name));
    }

    public static void Apply(VolumeSnapshot snapshot, StepRunner steps) =>
        steps.Tool(QemuImgSnapshot('a', snapshot.VolumePath, snapshot.Name) with { Timeout = TimeSpan.FromHours(2) });

    public static void Delete(VolumeSnapshot snapshot, VolumeAttachment attachment, StepRunner steps)
    {
        if (LiveExport(attachment) is { } export)
            steps.Do($"Delete internal snapshot '{snapshot.Name}' of {snapshot.VolumePath} through the monitor of qemu-storage-daemon (pid {export.ProcessId})",
                () => Monitor(export, "blockdev-snapshot-delete-internal-sync", new JsonObject { ["device"] = DiskNode, ["id"] = snapshot.Id, ["name"] = snapshot.Name }));
        else
            steps.Tool(QemuImgSnapshot('d', snapshot.VolumePath, snapshot.Name));
    }

    private static FuseExportRecord? LiveExport(VolumeAttachment attachment) =>
        attachment.FuseExport is { IsDaemonAlive: true } export ? export : null;

    private static void Monitor(FuseExportRecord export, string command, JsonObject arguments)
    {
        using var monitor = QmpClient.Connect(export.MonitorSocketPath, TimeSpan.FromSeconds(60));
        monitor.Execute(command, arguments);
    }
}
