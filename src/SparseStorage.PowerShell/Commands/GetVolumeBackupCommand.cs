using System.Management.Automation;
using SparseStorage.Core.Backups;
using SparseStorage.Core.Pools;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Get-VolumeBackup: lists the backup sets in a destination, oldest first, with their chains (Parent).</summary>
[Cmdlet(VerbsCommon.Get, "VolumeBackup")]
[OutputType(typeof(VolumeBackup))]
public sealed class GetVolumeBackupCommand : SparseStorageCmdlet
{
    /// <summary>The directory that holds backup sets.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>Only sets of these volumes; wildcards allowed. All volumes when omitted.</summary>
    [Parameter(Position = 1)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(Completers.BackedUpVolumeCompleter))]
    public string[] Volume { get; set; } = ["*"];

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var patterns = Volume.Select(v => new NamePattern(v)).ToList();
            foreach (var backup in BackupCatalog.List(ProviderPath(Destination), name => patterns.Any(p => p.IsMatch(name)),
                         damaged => WriteError(Errors.ErrorMapping.ToRecord(damaged))))
                WriteObject(backup);
        }, Destination);
}
