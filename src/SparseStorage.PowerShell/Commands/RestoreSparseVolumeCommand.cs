using System.Management.Automation;
using SparseStorage.Core.Backups;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Restore-SparseVolume: rebuilds a volume from a backup set and its chain, sparse, every block verified.</summary>
[Cmdlet(VerbsData.Restore, "SparseVolume", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(SparseVolume))]
public sealed class RestoreSparseVolumeCommand : SparseStorageCmdlet
{
    /// <summary>The backup set's directory; binds BackupPath from Get-VolumeBackup and Backup-SparseVolume output.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("BackupPath")]
    [ArgumentCompleter(typeof(Completers.BackupSetCompleter))]
    [ValidateNotNullOrEmpty]
    public string Backup { get; set; } = "";

    /// <summary>
    /// Where the image goes: a volume name (beside the original), a file path in a pool, or for a backup of a Ceph
    /// volume an rbd:POOL[/NAMESPACE]/IMAGE path in a registered Ceph pool. The original volume when omitted.
    /// </summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string? Destination { get; set; }

    /// <summary>
    /// The file holding the key the set was signed with (see Backup-SparseVolume): a set whose manifest.hmac does not
    /// verify, or that has none, is refused.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? IntegrityKeyFile { get; set; }

    /// <summary>With -IntegrityKeyFile, restore a set that carries no signature (one made before a key was used).</summary>
    [Parameter]
    public SwitchParameter AllowUnsigned { get; set; }

    /// <summary>Do not ask for confirmation (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var restorer = new BackupRestorer(Context);
            var destination = Destination is not null && Destination.Contains('/') ? ProviderPath(Destination) : Destination;
            var key = LoadIntegrityKey(IntegrityKeyFile);
            var signature = key is null ? null : new BackupSignaturePolicy(key, AllowUnsigned);
            if (Core.Ceph.CephBackupRestorer.Handles(ProviderPath(Backup), destination))
            {
                WriteObject(PlanAndApply(new Core.Ceph.CephBackupRestorer(Context), new Core.Ceph.RestoreCephBackupRequest(ProviderPath(Backup), destination, signature)));
                return;
            }
            var plan = restorer.Plan(ProviderPath(Backup), destination, signature);
            if (ShouldApply(plan))
                WriteObject(RunWithProgress((progress, token) => restorer.Apply(plan, progress, token)));
        }, Backup);
}
