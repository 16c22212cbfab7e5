using SparseStorage.Core.Devices;
using SparseStorage.Core.Host;

namespace SparseStorage.Core.Tests.Support;

/// <summary>
/// The loop attachments on the host at one moment, by device and disk sequence (new with every attach), so a test can
/// tell the loops attached since from those of other builds on the machine. A loop whose backing file reads "/" sits
/// on a FUSE export whose daemon is gone: no path names it any more, so it is found by being new.
/// </summary>
public sealed class LoopSnapshot
{
    private readonly HashSet<(string Device, long DiskSequence)> attached = LoopDevices.Read().Select(l => (l.Device, l.DiskSequence)).ToHashSet();

    /// <summary>Loops attached since the snapshot whose backing file reads "/" (a dead FUSE export lifted under them).</summary>
    public IReadOnlyList<LoopDevice> DeadLoopsSince() =>
        LoopDevices.Read().Where(l => l.IsBackingDetached && !attached.Contains((l.Device, l.DiskSequence))).ToList();

    /// <summary>Loops attached since the snapshot, whatever their backing file.</summary>
    public IReadOnlyList<LoopDevice> LoopsSince() =>
        LoopDevices.Read().Where(l => !attached.Contains((l.Device, l.DiskSequence))).ToList();

    /// <summary>The loops the FUSE export records in <paramref name="exportsDirectory"/> name, while still those attachments: provably that runtime's.</summary>
    public static IReadOnlyList<LoopDevice> RecordedIn(string exportsDirectory)
    {
        var recorded = FuseExportRecord.ReadAll(exportsDirectory).Select(r => r.Loop).OfType<LoopIdentity>().ToList();
        return LoopDevices.Read().Where(l => recorded.Any(r => r.Is(l))).ToList();
    }
}
