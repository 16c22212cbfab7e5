using System.Management.Automation;
using SparseStorage.Core.Aoe;
using SparseStorage.PowerShell.Completers;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Export-AtaoeDisk: exports a volume (of a file pool or a Ceph pool) as an AoE target through a vblade that outlives the session.</summary>
[Cmdlet(VerbsData.Export, "AtaoeDisk", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(AtaoeExport))]
public sealed class ExportAtaoeDiskCommand : VolumeCmdlet
{
    /// <summary>The AoE shelf (major) address, 0 to 65534.</summary>
    [Parameter(Mandatory = true)]
    [ValidateRange(0, AoeProtocol.MaxShelf)]
    public int Shelf { get; set; }

    /// <summary>The AoE slot (minor) address, 0 to 254, or Auto: the lowest slot free on that shelf and interface.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Slot { get; set; } = "Auto";

    /// <summary>The network interface vblade serves on.</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkInterfaceCompleter))]
    public string Interface { get; set; } = "";

    /// <summary>Serve the volume read-only (vblade -r); the only way to export a volume mounted on this host.</summary>
    [Parameter]
    public SwitchParameter ReadOnly { get; set; }

    /// <summary>Only these initiators see the target (vblade -m), at most 32.</summary>
    [Parameter]
    [ValidateCount(1, AtaoeExportRequest.MaxMacAllow)]
    public string[] MacAllow { get; set; } = [];

    /// <summary>vblade opens the image with O_DIRECT (vblade -d).</summary>
    [Parameter]
    public SwitchParameter Direct { get; set; }

    /// <summary>vblade opens the image with O_SYNC (vblade -s).</summary>
    [Parameter]
    public SwitchParameter Sync { get; set; }

    /// <summary>Start again an export at this address whose vblade died.</summary>
    [Parameter]
    public SwitchParameter Restart { get; set; }

    /// <summary>A Ceph volume is served through its image exported as a file (qemu-storage-daemon, FUSE).</summary>
    protected override bool HandlesCephVolumes => true;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var service = new AtaoeExportService(Context);
            var plan = service.Plan(new AtaoeExportRequest
            {
                Volume = ResolveVolume(), Shelf = Shelf, Slot = AtaoeExportRequest.ParseSlot(Slot), Interface = Interface, ReadOnly = ReadOnly,
                MacAllow = MacAllow, Direct = Direct, Sync = Sync, Restart = Restart,
            });
            if (!ShouldApply(plan))
                return;
            // Applied on the pipeline thread, where the plan was made: a network namespace belongs to a thread, and
            // vblade must start in the one that holds the interface.
            AtaoeExport export;
            try
            {
                export = service.Apply(plan, null, Cancellation);
            }
            finally
            {
                WriteStepsStarted();
            }
            WriteObject(export);
        }, VolumeTarget);
}
