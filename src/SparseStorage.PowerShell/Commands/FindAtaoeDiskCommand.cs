using System.Management.Automation;
using SparseStorage.Core.Aoe;
using SparseStorage.PowerShell.Completers;

namespace SparseStorage.PowerShell.Commands;

/// <summary>Find-AtaoeDisk: broadcasts an AoE Query Config on an interface and sizes every target that answers (no aoe driver needed).</summary>
[Cmdlet(VerbsCommon.Find, "AtaoeDisk")]
[OutputType(typeof(AtaoeTarget))]
public sealed class FindAtaoeDiskCommand : SparseStorageCmdlet
{
    /// <summary>The network interface to search.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkInterfaceCompleter))]
    public string Interface { get; set; } = "";

    /// <summary>Seconds to wait for answers (default 1).</summary>
    [Parameter]
    [ValidateRange(0.05, 60.0)]
    public double Timeout { get; set; } = 1;

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            using var client = AoeClient.Open(Interface);
            WriteVerbose($"Query Config on {Interface} ({client.Address}, MTU {client.Mtu}); listening {Timeout} s.");
            foreach (var target in client.Discover(TimeSpan.FromSeconds(Timeout), Cancellation))
                WriteObject(target);
        }, Interface);
}
