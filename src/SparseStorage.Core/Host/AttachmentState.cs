using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;

namespace SparseStorage.Core.Host;

/// <summary>How one volume is in use on this host right now. <see cref="MappedDevice"/>: a dm-crypt mapping of an unlocked volume.</summary>
public sealed record VolumeAttachment(string? LoopDevice, IReadOnlyList<string> MountPoints, FuseExportRecord? FuseExport, bool ReadOnly, string? MappedDevice = null)
{
    public static VolumeAttachment Detached { get; } = new(null, [], null, false);
    public bool IsAttached => LoopDevice is not null || FuseExport is not null || MappedDevice is not null;
    public bool IsMounted => MountPoints.Count > 0;

    /// <summary>Where an unlocked encrypted volume's plaintext can be read: its /dev/mapper device or live decrypting FUSE export.</summary>
    public string? PlaintextPath => MappedDevice ?? (FuseExport is { Decrypting: true, IsDaemonAlive: true } ? FuseExport.ExportPath : null);

    /// <summary>Describes where the volume is in use, for an error message.</summary>
    public string Describe() =>
        IsMounted ? $"mounted at {string.Join(", ", MountPoints)}"
        : MappedDevice is not null ? $"unlocked at {MappedDevice}"
        : LoopDevice is not null ? $"attached to {LoopDevice}"
        : FuseExport is { Decrypting: true } ? $"unlocked through FUSE at {FuseExport.ExportPath} (qemu-storage-daemon pid {FuseExport.ProcessId})"
        : FuseExport is not null ? $"exported through FUSE at {FuseExport.ExportPath} (qemu-storage-daemon pid {FuseExport.ProcessId})"
        : "not in use";
}

/// <summary>
/// One read of the host's loop devices, mounts and FUSE exports, shared by every volume of a listing so that
/// listing thousands of volumes reads sysfs and mountinfo once.
/// </summary>
public sealed class AttachmentState
{
    private readonly ILookup<string, LoopDevice> loopsByBackingFile;
    private readonly ILookup<string, LoopDevice> loopsByDevice;
    private readonly ILookup<string, MountEntry> mountsByDevice;
    private readonly ILookup<string, MountEntry> mountsBySource;
    private readonly Dictionary<string, FuseExportRecord> exportsByVolume;
    private readonly HashSet<string> mappedDevices;

    public AttachmentState(IEnumerable<LoopDevice> loops, IEnumerable<MountEntry> mounts, IEnumerable<FuseExportRecord> exports, IEnumerable<string>? mappedDevices = null)
    {
        this.mappedDevices = new HashSet<string>(mappedDevices ?? [], StringComparer.Ordinal);
        var allLoops = loops.ToList();
        loopsByBackingFile = allLoops.ToLookup(l => l.BackingFile, StringComparer.Ordinal);
        loopsByDevice = allLoops.ToLookup(l => l.Device, StringComparer.Ordinal);
        var all = mounts.ToList();
        mountsByDevice = all.ToLookup(m => m.DeviceNumber, StringComparer.Ordinal);
        mountsBySource = all.ToLookup(m => m.Source, StringComparer.Ordinal);
        exportsByVolume = exports.GroupBy(e => e.VolumePath).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
    }

    public static AttachmentState Read(RuntimePaths paths) =>
        new(LoopDevices.Read(), MountTable.Read(),
            FuseExportRecord.ReadAll(paths.FuseExports).Concat(paths.FuseExports == RuntimePaths.SystemFuseExports ? [] : FuseExportRecord.ReadAll(RuntimePaths.SystemFuseExports)),
            DmCryptMapping.ReadAll());

    public VolumeAttachment Of(string volumePath)
    {
        exportsByVolume.TryGetValue(volumePath, out var export);
        var mapped = DmCryptMapping.DevicePathFor(volumePath);
        var mappedDevice = mappedDevices.Contains(mapped) ? mapped : null;
        var loop = loopsByBackingFile[volumePath].FirstOrDefault()
                   ?? (export is null ? null : loopsByBackingFile[export.ExportPath].FirstOrDefault() ?? RecordedLoop(export));
        if (loop is null)
            return export is null && mappedDevice is null ? VolumeAttachment.Detached : new VolumeAttachment(null, [], export, false, mappedDevice);
        // btrfs reports an anonymous device number (0:NN) in mountinfo, so the source device name is matched too.
        var mounts = mountsByDevice[loop.DeviceNumber].Union(mountsBySource[loop.Device])
            .Union(mappedDevice is null ? [] : mountsBySource[mappedDevice]).ToList();
        return new VolumeAttachment(loop.Device, mounts.Select(m => m.MountPoint).ToList(), export,
            loop.ReadOnly || (mounts.Count > 0 && mounts.All(m => m.ReadOnly)), mappedDevice);
    }

    /// <summary>
    /// The loop device the export's record names, while it is still that attachment: once a dead daemon's FUSE mount is
    /// detached, the loop's backing file reads "/" and no path finds it.
    /// </summary>
    private LoopDevice? RecordedLoop(FuseExportRecord export) =>
        export.Loop is { } recorded ? loopsByDevice[recorded.Device].FirstOrDefault(recorded.Is) : null;
}
