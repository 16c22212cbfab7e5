using System.Management.Automation;
using SparseStorage.Core.Backups;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Remove-VolumeBackup: deletes a backup set; a set that later sets build on goes only with them (-IncludeDependants).</summary>
[Cmdlet(VerbsCommon.Remove, "VolumeBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(VolumeBackup))]
public sealed class RemoveVolumeBackupCommand : SparseStorageCmdlet
{
    /// <summary>The backup set's directory; binds BackupPath from Get-VolumeBackup output.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("BackupPath")]
    [ArgumentCompleter(typeof(Completers.BackupSetCompleter))]
    [ValidateNotNullOrEmpty]
    public string Backup { get; set; } = "";

    /// <summary>Also remove the later sets that build on this one; without it such a set is refused (BackupHasDependants).</summary>
    [Parameter]
    public SwitchParameter IncludeDependants { get; set; }

    /// <summary>Do not ask for confirmation (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write each removed set as it was just before removal.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var service = new BackupSetService(Context);
            var plan = service.Plan(new RemoveBackupRequest(ProviderPath(Backup)) { IncludeDependants = IncludeDependants });
            if (!ShouldApply(plan))
                return;
            var removed = RunWithProgress((progress, token) => service.Apply(plan, progress, token));
            if (PassThru)
                WriteObject(removed, enumerateCollection: true);
        }, Backup);
}
