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
            var plan = service.Plan(new AtaoeExportAddress(Shelf, Slot, Interface));
            if (!ShouldApply(plan))
                return;
            // On the pipeline thread: the export's address is looked up in this thread's network namespace.
            AtaoeExport stopped;
            try
            {
                stopped = service.Apply(plan, null, Cancellation);
            }
            finally
            {
                WriteStepsStarted();
            }
            if (PassThru)
                WriteObject(stopped);
        }, $"e{Shelf}.{Slot}");
}
