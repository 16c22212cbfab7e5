using System.Management.Automation;
using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Get-StorageHost: what this host can do — root, kernel filesystems, loop/device-mapper/FUSE/AoE, tools.</summary>
[Cmdlet(VerbsCommon.Get, "StorageHost")]
[OutputType(typeof(StorageHost))]
public sealed class GetStorageHostCommand : SparseStorageCmdlet
{
    protected override void ProcessRecord() =>
        Invoke(() => WriteObject(new StorageHostProbe(Context, ToolLocator.Default).Probe(Cancellation)));
}
