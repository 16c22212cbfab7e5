using SparseStorage.Core.Copying;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Creates volumes: <see cref="Plan"/> validates the request and records every step in a dry run; <see cref="Apply"/>
/// runs the same steps under the volume's lock so that nothing half-made is left.
/// </summary>
public sealed class VolumeCreator(StorageContext context) : IPlannedOperation<NewVolumeRequest, CreateVolumePlan, SparseVolume>
{
    private const long SectorSize = 512;

    public CreateVolumePlan Plan(NewVolumeRequest request)
    {
        if (request.Format == VolumeFormat.Luks)
            throw new InvalidStorageArgumentException("UnsupportedFormat", "New-SparseVolume creates Raw or Qcow2 volumes; encrypt one with Protect-Volume.", request.Format);
        var size = request.Size.RequirePositive("-Size").RoundUpTo(SectorSize);
        FileSystemRules.Validate(request.FileSystem, size, request.Label);
        var (target, pool) = ResolveTarget(request);
        RequireNoSibling(target, pool.Name);
        VolumeReplacement.RequireReplaceable(context, target, request.Replace);
        var warnings = ProvisioningGuard.Check(context.Pools.Describe(pool), size.Bytes, $"Creating {System.IO.Path.GetFileName(target)} ({size})");

        var temporary = SiblingFile.TemporaryFor(target);
        var needsStaging = request.Format == VolumeFormat.Qcow2 && request.FileSystem != FileSystemType.None;
        var staging = needsStaging ? temporary + ".raw" : null;
        var commands = new List<ToolCommand>();
        var keepAllocation = request.Preallocation == Preallocation.Full && staging is null;
        if (request.FileSystem != FileSystemType.None)
            commands.Add(FileSystemRules.MakeCommand(request.FileSystem, staging ?? temporary, request.Label, keepAllocation, zeroedImage: true, toQcow2: staging is not null));
        if (request.Format == VolumeFormat.Qcow2)
            commands.Add(staging is null ? Qcow2Create(temporary, size, request.Preallocation) : Qcow2Convert(staging, temporary, request.Preallocation));
        var plan = new CreateVolumePlan(target, pool.Name, temporary, request, size, commands)
        {
            RawStagingPath = staging,
            Warnings = warnings,
            PunchesUnwrittenExtents = request.FileSystem != FileSystemType.None && !keepAllocation,
            ReplacesExisting = File.Exists(target),
        };
        var dryRun = StepRunner.ForPlan(context);
        Run(plan, dryRun);
        return plan with { Steps = dryRun.Steps.ToList() };
    }

    public SparseVolume Apply(CreateVolumePlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        // The name's lock first: a raw and a qcow2 volume of one name are different files with different locks.
        using var nameLock = context.LockVolume(NameKey(plan.TargetPath), cancellationToken);
        using var volumeLock = context.LockVolume(plan.TargetPath, cancellationToken);
        PlanRecheck.RequireSameSteps(plan, Plan(plan.Request));
        try
        {
            Run(plan, StepRunner.ForApply(context, progress, $"Creating {System.IO.Path.GetFileName(plan.TargetPath)}", cancellationToken));
        }
        finally
        {
            File.Delete(plan.TemporaryPath);
            if (plan.RawStagingPath is not null)
                File.Delete(plan.RawStagingPath);
        }
        return new VolumeCatalog(context).Get(plan.TargetPath);
    }

    /// <summary>Applies a plan without reporting progress.</summary>
    public SparseVolume Create(CreateVolumePlan plan, CancellationToken cancellationToken = default) => Apply(plan, null, cancellationToken);

    private void Run(CreateVolumePlan plan, StepRunner steps)
    {
        string Shown(string text) => steps.DryRun ? SiblingFile.AsPlanned(text, plan.TemporaryPath) : text;
        if (plan.CreatesRawFile)
            steps.Do(Shown($"create {(plan.PreallocatesRawFile ? "preallocated" : "sparse")} raw file {plan.RawPath} of {plan.Size}"),
                () => CreateRawFile(plan.RawPath, plan.Size.Bytes, plan.PreallocatesRawFile));
        foreach (var command in plan.Commands)
        {
            RunTool(steps, command, Shown(command.ToString()), plan);
            if (plan.PunchesAfter(command))
                steps.Do(Shown($"punch the unwritten (zeroed) extents of {plan.RawPath}"), () => HolePuncher.PunchUnwrittenExtents(plan.RawPath));
        }
        steps.Do(Shown($"rename {plan.TemporaryPath} to {plan.TargetPath}"), () => File.Move(plan.TemporaryPath, plan.TargetPath, overwrite: plan.Request.Replace));
    }

    private void RunTool(StepRunner steps, ToolCommand command, string shown, CreateVolumePlan plan)
    {
        var target = plan.TargetPath;
        try
        {
            steps.Do(shown, () => context.Runner.RunChecked(command, steps.Cancellation));
        }
        catch (ToolFailedException e) when (e.StandardError.Contains("No space left on device", StringComparison.Ordinal))
        {
            var directory = System.IO.Path.GetDirectoryName(target)!;
            throw new PoolFullException(
                $"{command.Tool} ran out of space making {target}: no space left on the filesystem holding {directory}, which has " +
                $"{ByteSize.Format(Libc.Space(directory).AvailableBytes)} free; the volume needs up to {plan.Size} once written" +
                $"{(plan.Request.Preallocation == Preallocation.Full ? ", all of it now" : "")}. Nothing was created.", target, e);
        }
        catch (ToolFailedException e) when (command.Tool == "mkfs.btrfs" && e.StandardError.Contains("cannot check mount status", StringComparison.Ordinal))
        {
            var unreachable = UnreachableLoopMounts.Describe(LoopDevices.Read(), MountTable.Read());
            if (unreachable.Count == 0)
                throw;
            throw new StorageOperationException("UnreachableLoopMount",
                "mkfs.btrfs cannot check whether the new image is mounted while a mounted loop device's backing file cannot be reached: " +
                string.Join("; ", unreachable) + ". A volume whose qemu-storage-daemon died shows IsBroken in Get-SparseVolume; " +
                "Lock-Volume clears it. Unmount any other such loop device with 'umount -l'.", target, e);
        }
    }

    public static ToolCommand Qcow2Create(string path, ByteSize size, Preallocation preallocation) =>
        new("qemu-img", ["create", "-q", "-f", "qcow2", .. PreallocationOption(preallocation), path, ToolCommand.Number(size.Bytes)]);

    private static ToolCommand Qcow2Convert(string source, string destination, Preallocation preallocation) =>
        new("qemu-img", ["convert", "-q", "-f", "raw", "-O", "qcow2", .. PreallocationOption(preallocation), source, destination])
        { Timeout = TimeSpan.FromHours(2) };

    private static string[] PreallocationOption(Preallocation preallocation) =>
        preallocation == Preallocation.Full ? ["-o", "preallocation=falloc"] : [];

    private (string Path, PoolDefinition Pool) ResolveTarget(NewVolumeRequest request)
    {
        if (request.Path is not null)
            return context.Pools.Confine(RequireExtensionFor(request.Path, request.Format));
        var name = Names.RequireValid(request.Name ?? "", "Volume");
        var pool = request.Pool is not null ? context.Pools.Find(request.Pool) : OnlyPool();
        var extension = request.Format == VolumeFormat.Qcow2 ? ".qcow2" : ".img";
        return context.Pools.Confine(System.IO.Path.Combine(pool.Path, name + extension));
    }

    /// <summary>A pool lists volumes by name, so a raw and a qcow2 file of one name cannot both be volumes.</summary>
    private static void RequireNoSibling(string target, string poolName)
    {
        var stem = NameKey(target);
        var sibling = VolumeInspector.Extensions.Select(e => stem + e)
            .FirstOrDefault(f => f != target && File.Exists(f));
        if (sibling is not null)
            throw new ResourceExistsException("VolumeExists",
                $"Pool '{poolName}' already has a volume named '{System.IO.Path.GetFileName(stem)}' ({sibling}); remove it first.", sibling);
    }

    /// <summary>The volume's directory and name without extension: what a raw and a qcow2 file of one name share.</summary>
    private static string NameKey(string target) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(target)!, System.IO.Path.GetFileNameWithoutExtension(target));

    internal static string RequireExtensionFor(string path, VolumeFormat format)
    {
        var extension = System.IO.Path.GetExtension(path).ToLowerInvariant();
        var allowed = format == VolumeFormat.Qcow2 ? new[] { ".qcow2" } : [".img", ".raw"];
        return allowed.Contains(extension) ? path
            : throw new InvalidStorageArgumentException("InvalidVolumeExtension",
                $"A {format} volume's file must end in {string.Join(" or ", allowed)} so that pools list it; '{path}' does not.", path);
    }

    private PoolDefinition OnlyPool()
    {
        var pools = context.Pools.Definitions();
        return pools.Count == 1 ? pools[0]
            : throw new InvalidStorageArgumentException("PoolRequired", pools.Count == 0
                ? "No storage pool is registered; register one with Register-StoragePool -Name <name> -Path <directory>."
                : $"Several pools are registered ({string.Join(", ", pools.Select(p => p.Name))}); choose one with -Pool.");
    }

    private static void CreateRawFile(string path, long size, bool preallocate)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        if (preallocate)
            SparseFile.Preallocate(file.SafeFileHandle, size, path);
        else
            FileSpace.SetLength(file.SafeFileHandle, size, path);
        file.Flush(flushToDisk: true);
    }
}
