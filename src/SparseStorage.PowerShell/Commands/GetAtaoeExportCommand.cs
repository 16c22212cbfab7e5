using System.Management.Automation;
using SparseStorage.Core.Aoe;
using SparseStorage.PowerShell.Completers;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Get-AtaoeExport: lists the module's AoE exports with the live state of their vblade (Running, Dead, Stale).</summary>
[Cmdlet(VerbsCommon.Get, "AtaoeExport")]
[OutputType(typeof(AtaoeExport))]
public sealed class GetAtaoeExportCommand : SparseStorageCmdlet
{
    /// <summary>Only exports on this shelf.</summary>
    [Parameter(Position = 0)]
    [ValidateRange(0, AoeProtocol.MaxShelf)]
    public int? Shelf { get; set; }

    /// <summary>Only exports on this network interface.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkInterfaceCompleter))]
    public string? Interface { get; set; }

    /// <summary>Only exports in these states.</summary>
    [Parameter]
    public AtaoeExportState[] State { get; set; } = [];

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            foreach (var export in new AtaoeExportService(Context).List())
                if ((Shelf is null || export.Shelf == Shelf) && (Interface is null || export.Interface == Interface)
                    && (State.Length == 0 || State.Contains(export.State)))
                    WriteObject(export);
        });
}
