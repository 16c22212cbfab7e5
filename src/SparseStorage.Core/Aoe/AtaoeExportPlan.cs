using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Aoe;

/// <summary>
/// An export as it would start: the address chosen, the record of a dead export at that address that -Restart clears,
/// and the detached start of vblade (<see cref="Launch"/>), then the wait until it serves.
/// </summary>
/// <param name="Directory">The exports directory the pid file, log and record go to.</param>
/// <param name="NetworkNamespace">The network namespace the plan was made in, which the address and interface belong to.</param>
public sealed record AtaoeExportPlan(
    AtaoeExportRequest Request, int Slot, VbladeCommandLine CommandLine, string VbladePath, AtaoeExportRecord? Replaces,
    string Directory, string NetworkNamespace) : OperationPlan
{
    /// <summary>vblade as start-stop-daemon runs it.</summary>
    public ToolCommand Vblade => new(VbladePath, CommandLine.Arguments());

    public string Address => $"e{Request.Shelf}.{Slot} on {Request.Interface}";

    /// <summary>The name of the export's record, pid file and log.</summary>
    public string Key => AtaoeExportRecord.KeyFor(Request.Shelf, Slot, Request.Interface, NetworkNamespace);

    /// <summary>
    /// The detached start: start-stop-daemon forks twice and calls setsid, so vblade belongs to no session of ours. The
    /// runner (CliWrap) waits for its tool to exit and reads its output to the end, and would stop or kill what it
    /// started on Ctrl+C, none of which suits a daemon meant to outlive the session; so what CliWrap runs is
    /// start-stop-daemon, which returns once vblade is forked off with its output going to the log, not to our pipes.
    /// </summary>
    public ToolCommand Launch => new("start-stop-daemon",
    [
        "--start", "--background", "--make-pidfile", "--pidfile", AtaoeExportRecord.PidFilePath(Directory, Key),
        "--output", AtaoeExportRecord.LogPath(Directory, Key), "--chdir", "/", "--exec", VbladePath, "--",
        .. CommandLine.Arguments(),
    ]);

    /// <summary>The step that removes the record of the dead export -Restart replaces, or null.</summary>
    public string? ClearStep => Replaces is { } dead
        ? $"Remove the record, pid file and log of the earlier export of volume '{dead.Volume}' at {Address}, whose vblade is gone"
        : null;

    /// <summary>What vblade's file needs first: for a Ceph volume, this host's lock (writable) and the daemon that exports the image as a file.</summary>
    internal Ceph.CephAtaoeBacking? Ceph { get; init; }

    public IReadOnlyList<string> BackingSteps { get; init; } = [];

    public string AwaitStep => $"Wait until vblade serves {Address}, then record the export";

    public override string Target => Request.Volume.Path;

    public override string Action => $"Export as AoE target {Address}";

    public override IReadOnlyList<string> Steps => [.. ClearStep is { } clear ? [clear] : Array.Empty<string>(), .. BackingSteps, Launch.ToString(), AwaitStep];
}
