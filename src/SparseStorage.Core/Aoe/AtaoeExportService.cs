using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Aoe;

/// <summary>
/// Exports volumes over AoE with vblade, started detached (start-stop-daemon: a new session, stdio into a log in the
/// state directory) so that it outlives the session that started it; lists exports with their live state; stops them.
/// Addresses are checked against the module's records and against every running vblade, also ones started by hand.
/// Network namespaces belong to threads: plan and apply on the thread whose namespace holds the interface.
/// </summary>
public sealed class AtaoeExportService(StorageContext context)
    : IPlannedOperation<AtaoeExportRequest, AtaoeExportPlan, AtaoeExport>, IPlannedOperation<AtaoeExportAddress, AtaoeStopPlan, AtaoeExport>
{
    private const string Activity = "AoE export";
    private static readonly TimeSpan StartWait = TimeSpan.FromSeconds(5);

    private string Directory => context.Runtime.Ensure(context.Runtime.AoeExports);

    /// <summary>Checks the request and chooses the slot; nothing is changed.</summary>
    public AtaoeExportPlan Plan(AtaoeExportRequest request)
    {
        context.RequireRoot("Exporting a volume over AoE");
        var macs = AtaoeExportRules.RequireValid(request);
        AtaoeExportRules.RequireExportable(request.Volume, request.ReadOnly);
        var ceph = Ceph.CephAtaoeBacking.For(context, request.Volume.Path, request.ReadOnly);
        ceph?.RequireExportable(request.Volume);
        var servedFile = ceph?.ServedFile ?? request.Volume.Path;
        if (Libc.if_nametoindex(request.Interface) == 0)
            throw AoeInterfaceException.Missing(request.Interface);

        var network = NetworkNamespace.Current();
        var records = AtaoeExportRecord.ReadAll(context.Runtime.AoeExports);
        var processes = VbladeProcesses.Scan();
        var occupancy = new AddressOccupancy(records, processes, request.Shelf, request.Interface, network);
        var slot = request.Slot ?? occupancy.LowestFreeSlot();
        var replaces = occupancy.RequireFree(slot, request.Restart);
        AtaoeExportRules.RequireNotExportedElsewhere(request, servedFile, records.Where(r => r != replaces && r.StateNow() == AtaoeExportState.Running), processes);

        var commandLine = new VbladeCommandLine(request.Shelf, slot, request.Interface, servedFile)
            { ReadOnly = request.ReadOnly, Direct = request.Direct, Sync = request.Sync, MacAllow = macs };
        return new AtaoeExportPlan(request, slot, commandLine, ToolLocator.Default.Locate("vblade"), replaces, context.Runtime.AoeExports, network)
        {
            Ceph = ceph,
            BackingSteps = ceph?.StartSteps ?? [],
        };
    }

    /// <summary>
    /// Under the exports lock (so two sessions cannot take one slot) plans again from the volume and the exports as
    /// they are now, refuses if that is not the same plan, then clears a replaced record, starts vblade and waits until it serves.
    /// A Ceph volume's lock and daemon are taken and started before vblade, and undone if vblade does not serve.
    /// </summary>
    public AtaoeExport Apply(AtaoeExportPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var exportsLock = LockExports(cancellationToken);
        RequireUnchanged(plan);
        var steps = StepRunner.ForApply(context, progress, Activity, cancellationToken);
        if (plan is { ClearStep: { } clear, Replaces: { } dead })
            steps.Do(clear, () => dead.Delete(Directory));
        var undo = new Stack<Action>();
        try
        {
            plan.Ceph?.Start(steps, undo);
            AtaoeExportRecord.WriteOwnerOnly(AtaoeExportRecord.PidFilePath(Directory, plan.Key), "");
            AtaoeExportRecord.WriteOwnerOnly(AtaoeExportRecord.LogPath(Directory, plan.Key), "");
            steps.Tool(plan.Launch with { Timeout = StartWait });
            var record = steps.Measure<AtaoeExportRecord?>(plan.AwaitStep, () => AwaitServing(plan, cancellationToken), null);
            record!.Save(Directory);
            plan.Ceph?.Release();
            return record.ToExport(Directory);
        }
        catch when (undo.Count > 0)
        {
            Undo(undo);
            throw;
        }
    }

    private static void Undo(Stack<Action> undo)
    {
        while (undo.TryPop(out var step))
        {
            try
            {
                step();
            }
            catch (Exception e) when (e is SparseStorageException or IOException)
            {
                // Keep undoing; the original failure is the one reported.
            }
        }
    }

    /// <summary>Plans and applies in one go, for callers that confirm nothing.</summary>
    public AtaoeExport Export(AtaoeExportRequest request, CancellationToken cancellationToken = default) =>
        Apply(Plan(request), null, cancellationToken);

    private void RequireUnchanged(AtaoeExportPlan plan)
    {
        if (NetworkNamespace.Current() != plan.NetworkNamespace)
            throw new StorageOperationException("ChangedSincePlanned",
                $"The export of {plan.Target} was planned in network namespace {plan.NetworkNamespace} and is applied in {NetworkNamespace.Current()}; plan it again where it is to run.", plan.Target);
        var volume = new VolumeCatalog(context).Get(plan.Request.Volume.Path);
        var now = Plan(plan.Request with { Volume = volume, Slot = plan.Slot });
        if (!now.Steps.SequenceEqual(plan.Steps))
            throw new StorageOperationException("ChangedSincePlanned",
                $"The export of {plan.Target} changed since it was planned; nothing was done. Planned: {plan.Describe()}. Now: {now.Describe()}.", plan.Target);
    }

    public IReadOnlyList<AtaoeExport> List() =>
        AtaoeExportRecord.ReadAll(context.Runtime.AoeExports).Select(r => r.ToExport(context.Runtime.AoeExports))
            .OrderBy(e => e.Interface, StringComparer.Ordinal).ThenBy(e => e.Shelf).ThenBy(e => e.Slot).ToList();

    /// <summary>The export at this address in this network namespace.</summary>
    public AtaoeExport Find(int shelf, int slot, string interfaceName) =>
        FindRecord(new AtaoeExportAddress(shelf, slot, interfaceName)).ToExport(context.Runtime.AoeExports);

    /// <summary>Finds the export at the address and says how it would be stopped; nothing is changed.</summary>
    public AtaoeStopPlan Plan(AtaoeExportAddress address)
    {
        context.RequireRoot("Stopping an AoE export");
        var record = FindRecord(address);
        var ceph = Ceph.CephAtaoeBacking.For(context, record.VolumePath, record.ReadOnly);
        return new AtaoeStopPlan(address, record.ToExport(context.Runtime.AoeExports), record) { Ceph = ceph, BackingSteps = ceph?.StopSteps() ?? [] };
    }

    /// <summary>
    /// Under the exports lock, checks that the same vblade is recorded at the address in the same state, then stops it
    /// (TERM, then KILL after a few seconds), then a Ceph volume's daemon and lock, and removes its record, pid file and log.
    /// Returns the export as it was found.
    /// </summary>
    public AtaoeExport Apply(AtaoeStopPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var exportsLock = LockExports(cancellationToken);
        var record = FindRecord(plan.Address);
        if (record.ProcessId != plan.Record.ProcessId || record.ProcessStartTicks != plan.Record.ProcessStartTicks || record.StateNow() != plan.Export.State)
            throw new StorageOperationException("ChangedSincePlanned",
                $"The export {plan.Address} changed since it was planned (now vblade pid {record.ProcessId}, {record.StateNow()}); nothing was done.", plan.Target);
        if (plan.Ceph is { } ceph && !ceph.StopSteps().SequenceEqual(plan.BackingSteps))
            throw new StorageOperationException("ChangedSincePlanned",
                $"The export {plan.Address} changed since it was planned (its Ceph image's daemon or lock); nothing was done. Planned: {plan.Describe()}.", plan.Target);
        var steps = StepRunner.ForApply(context, progress, Activity, cancellationToken);
        if (plan.StopsProcess)
            steps.Do(plan.TerminateStep, () => Terminate(record.ProcessId, cancellationToken));
        plan.Ceph?.Stop(steps);
        steps.Do(plan.RemoveStep, () => record.Delete(Directory));
        return plan.Export;
    }

    /// <summary>Plans and applies in one go, for callers that confirm nothing.</summary>
    public AtaoeExport Stop(int shelf, int slot, string interfaceName, CancellationToken cancellationToken = default) =>
        Apply(Plan(new AtaoeExportAddress(shelf, slot, interfaceName)), null, cancellationToken);

    private AtaoeExportRecord FindRecord(AtaoeExportAddress address)
    {
        var key = AtaoeExportRecord.KeyFor(address.Shelf, address.Slot, address.Interface, NetworkNamespace.Current());
        return AtaoeExportRecord.ReadAll(context.Runtime.AoeExports).FirstOrDefault(r => r.Key == key)
               ?? throw new StorageObjectNotFoundException("AoeExportNotFound",
                   $"No AoE export e{address.Shelf}.{address.Slot} on {address.Interface}; Get-AtaoeExport lists them.", $"e{address.Shelf}.{address.Slot}");
    }

    private FileLock LockExports(CancellationToken cancellationToken) =>
        FileLock.Acquire(Path.Combine(Directory, ".lock"), context.LockWait, "the AoE exports", cancellationToken);

    /// <summary>vblade prints "pid N: eS.L, … sectors" once its socket is bound; until then it is not serving.</summary>
    private AtaoeExportRecord AwaitServing(AtaoeExportPlan plan, CancellationToken cancellationToken)
    {
        var log = AtaoeExportRecord.LogPath(Directory, plan.Key);
        var pidFile = AtaoeExportRecord.PidFilePath(Directory, plan.Key);
        var deadline = DateTime.UtcNow + StartWait;
        var pid = 0;
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (pid == 0)
                int.TryParse(File.ReadAllText(pidFile).Trim(), out pid);
            if (pid > 0 && !VbladeProcesses.IsAlive(pid))
                break;
            if (pid > 0 && File.ReadAllText(log).Contains($"pid {pid}:", StringComparison.Ordinal) && VbladeProcesses.StartTicks(pid) is { } ticks)
                return RecordOf(plan, pid, ticks);
            Thread.Sleep(20);
        }
        if (pid > 0 && VbladeProcesses.IsAlive(pid))
            Libc.kill(pid, 9);
        var output = File.ReadAllText(log).Trim();
        File.Delete(pidFile);
        throw new StorageOperationException("VbladeFailed",
            $"vblade did not start serving {plan.Address}: {(output.Length > 0 ? output : "it printed nothing")} (command: {plan.Vblade}).", plan.Address);
    }

    private static AtaoeExportRecord RecordOf(AtaoeExportPlan plan, int pid, long startTicks) => new()
    {
        Volume = plan.Request.Volume.Name, VolumePath = plan.Request.Volume.Path, Shelf = plan.Request.Shelf, Slot = plan.Slot,
        Interface = plan.Request.Interface, NetworkNamespace = plan.NetworkNamespace, ReadOnly = plan.Request.ReadOnly,
        MacAllow = plan.CommandLine.MacAllow, Direct = plan.Request.Direct, Sync = plan.Request.Sync, ProcessId = pid,
        ProcessStartTicks = startTicks, BootId = VbladeProcesses.BootId(), StartedUtc = DateTime.UtcNow,
        Command = [plan.VbladePath, .. plan.CommandLine.Arguments()],
    };

    private static void Terminate(int pid, CancellationToken cancellationToken)
    {
        const int SIGTERM = 15, SIGKILL = 9;
        Libc.kill(pid, SIGTERM);
        var deadline = DateTime.UtcNow + AtaoeStopPlan.StopWait;
        while (VbladeProcesses.IsAlive(pid) && DateTime.UtcNow < deadline && !cancellationToken.IsCancellationRequested)
            Thread.Sleep(20);
        if (VbladeProcesses.IsAlive(pid))
            Libc.kill(pid, SIGKILL);
    }
}
