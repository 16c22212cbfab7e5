using System.Management.Automation;
using SparseStorage.Core.Volumes.Maintenance;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Test-SparseVolume: checks a volume's image and filesystem without changing either.</summary>
[Cmdlet(VerbsDiagnostic.Test, "SparseVolume", DefaultParameterSetName = PathSet)]
[OutputType(typeof(VolumeTestResult), typeof(bool))]
public sealed class TestSparseVolumeCommand : VolumeCmdlet
{
    /// <summary>Write only $true (healthy) or $false, as Test-Path does.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var volume = ResolveVolume();
            var result = RunWithProgress((progress, token) => new VolumeChecker(Context).Test(volume, progress, token));
            WriteObject(Quiet ? result.IsHealthy : result);
        }, VolumeTarget);
}
