using System.Collections;
using SparseStorage.PowerShell.Tests.Runtime;

namespace SparseStorage.PowerShell.Tests.Plans;

/// <summary>
/// The AoE cmdlets' plans in the real runtime, with real vblade serving on a veth pair inside a network namespace the
/// test makes (the runspace runs on a thread inside it). Add-AtaoeDiskToGroup needs the aoe driver and device-mapper,
/// which the development and CI kernels lack: there its -WhatIf lists the real commands and its run refuses before any.
/// </summary>
[Collection(PowerShellRuntimeCollection.Name)]
[CoversPlanOf("Export-AtaoeDisk", "Stop-AtaoeExport", "Add-AtaoeDiskToGroup")]
public sealed class AtaoePlanTests : IDisposable
{
    private readonly PowerShellRuntime runtime;
    private readonly TempPool pool;
    private readonly NetworkNamespaceLab lab;

    public AtaoePlanTests(PowerShellRuntime runtime)
    {
        this.runtime = runtime;
        pool = new TempPool(runtime);
        lab = Environment.IsPrivilegedProcess ? new NetworkNamespaceLab() : null!;
    }

    private string Exports => Path.Combine(runtime.Root, "run", "aoe");

    [IntegrationFact("vblade", "ip", "start-stop-daemon")]
    public void Export_AtaoeDisk_starts_exactly_the_planned_vblade_and_WhatIf_starts_nothing()
    {
        var parameters = Parameters(pool.NewVolume("exported", extra: "-FileSystem None"));

        var outcome = lab.Run(() => PlanRoundTrip.Check(runtime, "Export-AtaoeDisk -Path $Volume -Shelf 41 -Interface $Interface", parameters, State));

        outcome.Planned.Should().HaveCount(2);
        outcome.Planned[0].Should().StartWith("start-stop-daemon --start --background").And.EndWith($"-- 41 0 {lab.ExportInterface} {parameters["Volume"]}");
        outcome.Planned[1].Should().Be($"Wait until vblade serves e41.0 on {lab.ExportInterface}, then record the export");
        outcome.Applying.Output.Should().ContainSingle().Which.Properties["State"].Value.ToString().Should().Be("Running");
        lab.ProcessesInside().Should().ContainSingle().Which.Should().Contain($"vblade 41 0 {lab.ExportInterface}");
    }

    [IntegrationFact("vblade", "ip", "start-stop-daemon")]
    public void Stop_AtaoeExport_stops_exactly_the_planned_vblade_and_WhatIf_leaves_it_serving()
    {
        var parameters = Parameters(pool.NewVolume("stopped", extra: "-FileSystem None"));
        lab.Run(() => runtime.Run("Export-AtaoeDisk -Path $Volume -Shelf 42 -Slot 3 -Interface $Interface -Confirm:$false", parameters).Succeeded());
        var vblade = lab.ProcessesInside().Should().ContainSingle().Subject;

        var outcome = lab.Run(() => PlanRoundTrip.Check(runtime, "Stop-AtaoeExport -Shelf 42 -Slot 3 -Interface $Interface", parameters, State));

        outcome.Planned.Should().Equal(
            $"Stop vblade pid {vblade[..vblade.IndexOf(':')]} serving {parameters["Volume"]} (SIGTERM, then SIGKILL after 5 s)",
            $"Remove the record, pid file and log of the export e42.3 on {lab.ExportInterface}");
        lab.ProcessesInside().Should().BeEmpty();
        State().Should().BeEmpty();
    }

    [AoeAggregationRefusedFact]
    public void Add_AtaoeDiskToGroup_WhatIf_lists_the_real_LVM_commands_and_the_run_refuses_before_any_on_a_host_without_the_aoe_driver()
    {
        var parameters = Parameters(pool.NewVolume("member", extra: "-FileSystem None"));
        parameters["Group"] = "sst" + Guid.NewGuid().ToString("N")[..8];
        lab.Run(() => runtime.Run("Export-AtaoeDisk -Path $Volume -Shelf 43 -Slot 0 -Interface $Interface -Confirm:$false", parameters).Succeeded());
        const string Add = "Find-AtaoeDisk -Interface $Initiator -Timeout 1 | Add-AtaoeDiskToGroup -VolumeGroup $Group -LogicalVolume data";
        var before = LvmState();
        var host = new PromptRecordingHost();

        var (whatIf, run) = lab.Run(() =>
        {
            using var runspace = runtime.Open(host);
            return (PowerShellRuntime.Run(runspace, Add + " -WhatIf -Verbose", parameters).Succeeded(),
                    PowerShellRuntime.Run(runspace, Add + " -Verbose -Confirm:$false", parameters));
        });

        var group = (string)parameters["Group"]!;
        string[] commands = ["aoe-discover", "pvcreate /dev/etherd/e43.0", $"vgcreate {group} /dev/etherd/e43.0",
                             $"lvcreate --yes --name data --extents 100%FREE {group}", $"mkfs.ext4 -F -q /dev/{group}/data"];
        Messages(whatIf, "Plan: ").Should().Equal(commands);
        host.Lines.Should().Contain(line => line.StartsWith("What if:", StringComparison.Ordinal) && line.Contains("Add AoE disks"));
        whatIf.Output.Should().BeEmpty();
        whatIf.Warnings.Should().ContainSingle().Which.Message.Should().Contain("the aoe driver").And.Contain("will refuse");
        run.Error.FullyQualifiedErrorId.Should().StartWith("AoeDriverMissing,");
        run.Error.Exception.Message.Should().Contain("modprobe aoe");
        Messages(run, "Step: ").Should().BeEmpty("the refusal comes before the first step");
        run.Output.Should().BeEmpty();
        LvmState().Should().Equal(before);
        host.Prompts.Should().BeEmpty();
    }

    private Hashtable Parameters(string volume) => new()
    {
        ["Volume"] = volume, ["Interface"] = lab.ExportInterface, ["Initiator"] = lab.InitiatorInterface,
    };

    /// <summary>The export records, pid files and logs, and the processes in the lab's namespace.</summary>
    private IReadOnlyList<string> State() =>
        [.. Directory.Exists(Exports) ? Directory.GetFiles(Exports, "e*").Order(StringComparer.Ordinal).ToArray() : [], .. lab.ProcessesInside()];

    /// <summary>LVM's physical volumes and groups, the aoe driver's devices, and the export records.</summary>
    private IReadOnlyList<string> LvmState() =>
    [
        .. Report("pvs"), .. Report("vgs"), $"/dev/etherd exists: {Directory.Exists("/dev/etherd")}", .. State(),
    ];

    private static IEnumerable<string> Report(string tool)
    {
        var start = new System.Diagnostics.ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "--noheadings", "--separator", "|" })
            start.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return [$"{tool} exit {process.ExitCode}", .. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
    }

    private static IReadOnlyList<string> Messages(Invocation invocation, string prefix) =>
        invocation.Verbose.Select(v => v.Message).Where(m => m.StartsWith(prefix, StringComparison.Ordinal)).Select(m => m[prefix.Length..]).ToList();

    public void Dispose()
    {
        try
        {
            if (lab is not null)
            {
                lab.Run(() => runtime.Run("Get-AtaoeExport | Stop-AtaoeExport -Confirm:$false"));
                lab.Dispose();
                lab.LeftBehind().Should().BeEmpty();
            }
        }
        finally
        {
            pool.Dispose();
        }
    }
}

/// <summary>
/// A runtime test of Add-AtaoeDiskToGroup's refusal: it needs root, vblade and LVM's tools, and a kernel without the aoe
/// driver or device-mapper (where they exist the run would really change LVM, which is not this test's business).
/// </summary>
public sealed class AoeAggregationRefusedFactAttribute : FactAttribute
{
    public AoeAggregationRefusedFactAttribute()
    {
        Skip = Prerequisites.SkipReason(["vblade", "ip", "start-stop-daemon", "pvs", "vgs"]);
        var aoeDriver = Directory.Exists("/sys/module/aoe") || Directory.Exists("/dev/etherd");
        var deviceMapper = File.Exists("/dev/mapper/control");
        if (Skip is null && aoeDriver && deviceMapper)
            Skip = "this host has the aoe driver and device-mapper, so Add-AtaoeDiskToGroup would really run";
    }
}
