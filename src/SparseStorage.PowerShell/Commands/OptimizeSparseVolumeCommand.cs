using System.Management.Automation;
using SparseStorage.Core.Volumes.Maintenance;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Optimize-SparseVolume: gives the space of freed blocks back to the pool (fstrim, hole punching, qcow2 compaction).</summary>
[Cmdlet(VerbsCommon.Optimize, "SparseVolume", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VolumeOptimizeResult))]
public sealed class OptimizeSparseVolumeCommand : VolumeCmdlet
{
    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var optimizer = new VolumeOptimizer(Context);
            var plan = optimizer.Plan(ResolveVolume());
            if (ShouldApply(plan))
                WriteObject(RunWithProgress((progress, token) => optimizer.Apply(plan, progress, token)));
        }, VolumeTarget);
}
