using System.Management.Automation;
using SparseStorage.Core.Aoe;
using SparseStorage.PowerShell.Completers;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Stop-AtaoeExport: stops an export's vblade and clears its state; takes AtaoeExport objects from the pipeline.</summary>
[Cmdlet(VerbsLifecycle.Stop, "AtaoeExport", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(AtaoeExport))]
public sealed class StopAtaoeExportCommand : SparseStorageCmdlet
{
    /// <summary>The export's shelf.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, AoeProtocol.MaxShelf)]
    public int Shelf { get; set; }

    /// <summary>The export's slot.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, AoeProtocol.MaxSlot)]
    public int Slot { get; set; }

    /// <summary>The export's network interface.</summary>
    [Parameter(Mandatory = true, Position = 2, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkInterfaceCompleter))]
    public string Interface { get; set; } = "";

    /// <summary>Write the stopped export (as it was found).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var service = new AtaoeExportService(Context);
            var export = service.Find(Shelf, Slot, Interface);
            var action = export.State == AtaoeExportState.Running
                ? $"Stop vblade pid {export.ProcessId} serving {export.VolumePath}"
                : $"Clear the {export.State.ToString().ToLowerInvariant()} export of {export.VolumePath}";
            if (!ShouldProcess($"AoE target e{Shelf}.{Slot} on {Interface}", action))
                return;
            var stopped = service.Stop(Shelf, Slot, Interface, Cancellation);
            if (PassThru)
                WriteObject(stopped);
        }, $"e{Shelf}.{Slot}");
}
