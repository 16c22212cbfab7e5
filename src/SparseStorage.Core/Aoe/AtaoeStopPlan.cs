using SparseStorage.Core.Planning;

namespace SparseStorage.Core.Aoe;

/// <summary>Where an export lives: its shelf, slot and interface (in the caller's network namespace).</summary>
public sealed record AtaoeExportAddress(int Shelf, int Slot, string Interface)
{
    public override string ToString() => $"e{Shelf}.{Slot} on {Interface}";
}

/// <summary>Stopping an export: its vblade (when it still runs), a Ceph volume's daemon and lock, then its record, pid file and log.</summary>
/// <param name="Export">The export as the plan found it; Apply returns it.</param>
/// <param name="Record">What the plan found recorded; Apply stops only the very same vblade.</param>
public sealed record AtaoeStopPlan(AtaoeExportAddress Address, AtaoeExport Export, AtaoeExportRecord Record) : OperationPlan
{
    /// <summary>How long vblade gets to exit after SIGTERM before it is killed.</summary>
    public static readonly TimeSpan StopWait = TimeSpan.FromSeconds(5);

    /// <summary>A Ceph volume's daemon and lock, stopped and released after vblade.</summary>
    internal Ceph.CephAtaoeBacking? Ceph { get; init; }

    public IReadOnlyList<string> BackingSteps { get; init; } = [];

    public bool StopsProcess => Export.State == AtaoeExportState.Running;

    public string TerminateStep =>
        $"Stop vblade pid {Export.ProcessId} serving {Export.VolumePath} (SIGTERM, then SIGKILL after {StopWait.TotalSeconds:0} s)";

    public string RemoveStep => $"Remove the record, pid file and log of the export {Address}";

    public override string Target => $"AoE target {Address}";

    public override string Action => StopsProcess ? "Stop AoE export" : $"Clear the {Export.State.ToString().ToLowerInvariant()} AoE export of {Export.VolumePath}";

    public override IReadOnlyList<string> Steps => [.. StopsProcess ? [TerminateStep] : Array.Empty<string>(), .. BackingSteps, RemoveStep];
}
