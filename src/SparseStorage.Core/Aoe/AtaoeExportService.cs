using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Aoe;

/// <summary>
/// Exports volumes over AoE with vblade, started detached (start-stop-daemon: a new session, stdio into a log in the
/// state directory) so that it outlives the session that started it; lists exports with their live state; stops them.
/// Addresses are checked against the module's records and against every running vblade, also ones started by hand.
/// </summary>
public sealed class AtaoeExportService(StorageContext context)
{
    private static readonly TimeSpan StartWait = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(5);

    private string Directory => context.Runtime.Ensure(context.Runtime.AoeExports);

    /// <summary>Checks the request and chooses the slot; nothing is changed.</summary>
    public AtaoeExportPlan Plan(AtaoeExportRequest request)
    {
        context.RequireRoot("Exporting a volume over AoE");
        var macs = AtaoeExportRules.RequireValid(request);
        AtaoeExportRules.RequireExportable(request.Volume, request.ReadOnly);
        if (Libc.if_nametoindex(request.Interface) == 0)
            throw AoeInterfaceException.Missing(request.Interface);

        var network = NetworkNamespace.Current();
        var records = AtaoeExportRecord.ReadAll(context.Runtime.AoeExports);
        var processes = VbladeProcesses.Scan();
        var occupancy = new AddressOccupancy(records, processes, request.Shelf, request.Interface, network);
        var slot = request.Slot ?? occupancy.LowestFreeSlot();
        var replaces = occupancy.RequireFree(slot, request.Restart);
        AtaoeExportRules.RequireNotExportedElsewhere(request, records.Where(r => r != replaces && r.StateNow() == AtaoeExportState.Running), processes);

        var commandLine = new VbladeCommandLine(request.Shelf, slot, request.Interface, request.Volume.Path)
            { ReadOnly = request.ReadOnly, Direct = request.Direct, Sync = request.Sync, MacAllow = macs };
        return new AtaoeExportPlan(request, slot, commandLine, ToolLocator.Default.Locate("vblade"), replaces);
    }

    /// <summary>Plans again under the exports lock (so two sessions cannot take one slot), starts vblade and waits until it serves.</summary>
    public AtaoeExport Export(AtaoeExportRequest request, CancellationToken cancellationToken = default)
    {
        using var exportsLock = LockExports(cancellationToken);
        var plan = Plan(request);
        plan.Replaces?.Delete(Directory);
        var key = AtaoeExportRecord.KeyFor(request.Shelf, plan.Slot, request.Interface, NetworkNamespace.Current());
        AtaoeExportRecord.WriteOwnerOnly(AtaoeExportRecord.PidFilePath(Directory, key), "");
        AtaoeExportRecord.WriteOwnerOnly(AtaoeExportRecord.LogPath(Directory, key), "");
        context.Runner.RunChecked(LaunchCommand(plan, Directory, key) with { Timeout = StartWait }, cancellationToken);
        var record = AwaitServing(plan, key, cancellationToken);
        record.Save(Directory);
        return record.ToExport(Directory);
    }

    /// <summary>
    /// The detached start: start-stop-daemon forks twice and calls setsid, so vblade belongs to no session of ours. The
    /// runner (CliWrap) waits for its tool to exit and reads its output to the end, and would stop or kill what it
    /// started on Ctrl+C, none of which suits a daemon meant to outlive the session; so what CliWrap runs is
    /// start-stop-daemon, which returns once vblade is forked off with its output going to the log, not to our pipes.
    /// </summary>
    public static ToolCommand LaunchCommand(AtaoeExportPlan plan, string directory, string key) =>
        new("start-stop-daemon",
        [
            "--start", "--background", "--make-pidfile", "--pidfile", AtaoeExportRecord.PidFilePath(directory, key),
            "--output", AtaoeExportRecord.LogPath(directory, key), "--chdir", "/", "--exec", plan.VbladePath, "--",
            .. plan.CommandLine.Arguments(),
        ]);

    public IReadOnlyList<AtaoeExport> List() =>
        AtaoeExportRecord.ReadAll(context.Runtime.AoeExports).Select(r => r.ToExport(context.Runtime.AoeExports))
            .OrderBy(e => e.Interface, StringComparer.Ordinal).ThenBy(e => e.Shelf).ThenBy(e => e.Slot).ToList();

    /// <summary>The export at this address in this network namespace.</summary>
    public AtaoeExport Find(int shelf, int slot, string interfaceName) =>
        FindRecord(shelf, slot, interfaceName).ToExport(context.Runtime.AoeExports);

    /// <summary>Stops the export's vblade (TERM, then KILL after a few seconds) and removes its record, pid file and log.</summary>
    public AtaoeExport Stop(int shelf, int slot, string interfaceName, CancellationToken cancellationToken = default)
    {
        context.RequireRoot("Stopping an AoE export");
        using var exportsLock = LockExports(cancellationToken);
        var record = FindRecord(shelf, slot, interfaceName);
        var before = record.ToExport(Directory);
        if (before.State == AtaoeExportState.Running)
            Terminate(record.ProcessId, cancellationToken);
        record.Delete(Directory);
        return before;
    }

    private AtaoeExportRecord FindRecord(int shelf, int slot, string interfaceName)
    {
        var key = AtaoeExportRecord.KeyFor(shelf, slot, interfaceName, NetworkNamespace.Current());
        return AtaoeExportRecord.ReadAll(context.Runtime.AoeExports).FirstOrDefault(r => r.Key == key)
               ?? throw new StorageObjectNotFoundException("AoeExportNotFound", $"No AoE export e{shelf}.{slot} on {interfaceName}; Get-AtaoeExport lists them.", $"e{shelf}.{slot}");
    }

    private FileLock LockExports(CancellationToken cancellationToken) =>
        FileLock.Acquire(Path.Combine(Directory, ".lock"), context.LockWait, "the AoE exports", cancellationToken);

    /// <summary>vblade prints "pid N: eS.L, … sectors" once its socket is bound; until then it is not serving.</summary>
    private AtaoeExportRecord AwaitServing(AtaoeExportPlan plan, string key, CancellationToken cancellationToken)
    {
        var log = AtaoeExportRecord.LogPath(Directory, key);
        var deadline = DateTime.UtcNow + StartWait;
        var pid = 0;
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (pid == 0)
                int.TryParse(File.ReadAllText(AtaoeExportRecord.PidFilePath(Directory, key)).Trim(), out pid);
            if (pid > 0 && !VbladeProcesses.IsAlive(pid))
                break;
            if (pid > 0 && File.ReadAllText(log).Contains($"pid {pid}:", StringComparison.Ordinal) && VbladeProcesses.StartTicks(pid) is { } ticks)
                return RecordOf(plan, pid, ticks);
            Thread.Sleep(20);
        }
        if (pid > 0 && VbladeProcesses.IsAlive(pid))
            Libc.kill(pid, 9);
        var output = File.ReadAllText(log).Trim();
        File.Delete(AtaoeExportRecord.PidFilePath(Directory, key));
        throw new StorageOperationException("VbladeFailed",
            $"vblade did not start serving {plan.Target}: {(output.Length > 0 ? output : "it printed nothing")} (command: {plan.Vblade}).", plan.Target);
    }

    private AtaoeExportRecord RecordOf(AtaoeExportPlan plan, int pid, long startTicks) => new()
    {
        Volume = plan.Request.Volume.Name, VolumePath = plan.Request.Volume.Path, Shelf = plan.Request.Shelf, Slot = plan.Slot,
        Interface = plan.Request.Interface, NetworkNamespace = NetworkNamespace.Current(), ReadOnly = plan.Request.ReadOnly,
        MacAllow = plan.CommandLine.MacAllow, Direct = plan.Request.Direct, Sync = plan.Request.Sync, ProcessId = pid,
        ProcessStartTicks = startTicks, BootId = VbladeProcesses.BootId(), StartedUtc = DateTime.UtcNow,
        Command = [plan.VbladePath, .. plan.CommandLine.Arguments()],
    };

    private static void Terminate(int pid, CancellationToken cancellationToken)
    {
        const int SIGTERM = 15, SIGKILL = 9;
        Libc.kill(pid, SIGTERM);
        var deadline = DateTime.UtcNow + StopWait;
        while (VbladeProcesses.IsAlive(pid) && DateTime.UtcNow < deadline && !cancellationToken.IsCancellationRequested)
            Thread.Sleep(20);
        if (VbladeProcesses.IsAlive(pid))
            Libc.kill(pid, SIGKILL);
    }
}
