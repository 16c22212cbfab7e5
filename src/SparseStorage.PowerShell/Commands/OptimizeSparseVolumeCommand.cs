using System.Management.Automation;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Volumes.Maintenance;

namespace SparseStorage.PowerShell.Commands;

/// <summary>
/// Optimize-SparseVolume: gives the space of freed blocks back to the pool (fstrim, hole punching, qcow2 compaction;
/// on a Ceph pool fstrim and rbd sparsify).
/// </summary>
[Cmdlet(VerbsCommon.Optimize, "SparseVolume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VolumeOptimizeResult))]
public sealed class OptimizeSparseVolumeCommand : VolumeCmdlet
{
    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            IPlannedOperation<SparseVolume, OptimizePlan, VolumeOptimizeResult> optimizer =
                CephVolumeOptimize.Handles(volume) ? new CephVolumeOptimize(Context) : new VolumeOptimizer(Context);
            var plan = optimizer.Plan(volume);
            if (ShouldApply(plan))
                WriteObject(RunWithProgress((progress, token) => optimizer.Apply(plan, progress, token)));
        }, VolumeTarget);
}
