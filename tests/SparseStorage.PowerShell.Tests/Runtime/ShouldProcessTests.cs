using System.Collections;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>
/// -WhatIf and -Confirm through the engine's own ShouldProcess: under -WhatIf nothing on disk or in the pool
/// configuration changes, and a high-impact command asks the host first and does nothing when the answer is No.
/// </summary>
[Collection(PowerShellRuntimeCollection.Name)]
public sealed class ShouldProcessTests(PowerShellRuntime runtime) : IDisposable
{
    private readonly TempPool pool = new(runtime);

    public static TheoryData<string> WhatIfCommands => new()
    {
        "New-SparseVolume -Name new1 -Pool $Pool -Size 16MB -FileSystem Ext4 -WhatIf",
        "Remove-SparseVolume -Path $Raw -WhatIf",
        "Remove-SparseVolume -Path $Raw -Wipe -Force -WhatIf",
        "Get-SparseVolume -Path $Raw | Remove-SparseVolume -Force -WhatIf",
        "Resize-SparseVolume -Path $Raw -Size 32MB -WhatIf",
        "Resize-SparseVolume -Path $Qcow -Size 12MB -Force -WhatIf",
        "Copy-SparseVolume -Path $Raw -Destination copy1 -WhatIf",
        "Optimize-SparseVolume -Path $Raw -WhatIf",
        "Compress-SparseVolume -Path $Raw -Destination $Spare -WhatIf",
        "Backup-SparseVolume -Path $Raw -Destination $Spare -WhatIf",
        "New-VolumeSnapshot -VolumePath $Qcow -Name s1 -WhatIf",
        "Remove-VolumeSnapshot -VolumePath $Qcow -Name s0 -Force -WhatIf",
        "Restore-VolumeSnapshot -VolumePath $Qcow -Name s0 -Force -WhatIf",
        "Register-StoragePool -Name $($Pool + 'x') -Path $Spare -WhatIf",
        "Get-StoragePool -Name $Pool | Unregister-StoragePool -WhatIf",
    };

    [IntegrationTheory("qemu-img", "mkfs.ext4", "e2fsck", "resize2fs", "tar", "zstd")]
    [MemberData(nameof(WhatIfCommands))]
    public void WhatIf_reports_what_would_happen_and_changes_nothing(string command)
    {
        var volumes = pool.NewVolumes();
        var before = (Pool: pool.Snapshot(), Configuration: File.ReadAllBytes(runtime.ConfigurationPath));
        var host = new PromptRecordingHost();
        using var runspace = runtime.Open(host);

        var result = PowerShellRuntime.Run(runspace, command, volumes).Succeeded();

        result.Output.Should().BeEmpty();
        host.Lines.Should().Contain(line => line.StartsWith("What if:", StringComparison.Ordinal));
        pool.Snapshot().Should().Equal(before.Pool);
        File.ReadAllBytes(runtime.ConfigurationPath).Should().Equal(before.Configuration);
        Directory.EnumerateFileSystemEntries(pool.Spare).Should().BeEmpty();
        host.Prompts.Should().BeEmpty();
    }

    public static TheoryData<string> HighImpactCommands => new()
    {
        "Remove-SparseVolume -Path $Raw",
        "Get-SparseVolume -Path $Raw | Remove-SparseVolume -Wipe",
        "Remove-VolumeSnapshot -VolumePath $Qcow -Name s0",
        "Restore-VolumeSnapshot -VolumePath $Qcow -Name s0",
        "Resize-SparseVolume -Path $Qcow -Size 12MB",
    };

    [IntegrationTheory("qemu-img", "mkfs.ext4", "e2fsck", "resize2fs")]
    [MemberData(nameof(HighImpactCommands))]
    public void A_high_impact_command_asks_the_host_and_does_nothing_when_told_No(string command)
    {
        var volumes = pool.NewVolumes();
        var before = pool.Snapshot();
        var host = new PromptRecordingHost("No");
        using var runspace = runtime.Open(host);

        var result = PowerShellRuntime.Run(runspace, command, volumes).Succeeded();

        host.Prompts.Should().ContainSingle();
        result.Output.Should().BeEmpty();
        pool.Snapshot().Should().Equal(before);
        Snapshots((string)volumes["Qcow"]!).Should().Equal("s0");
    }

    [IntegrationFact("qemu-img", "mkfs.ext4")]
    public void The_answer_Yes_lets_the_removal_go_ahead_after_one_prompt_naming_the_file()
    {
        var volumes = pool.NewVolumes();
        var host = new PromptRecordingHost("Yes");
        using var runspace = runtime.Open(host);

        PowerShellRuntime.Run(runspace, "Remove-SparseVolume -Path $Raw", volumes).Succeeded();

        host.Prompts.Should().ContainSingle().Which.Should().Contain((string)volumes["Raw"]!);
        File.Exists((string)volumes["Raw"]!).Should().BeFalse();
    }

    [IntegrationFact("qemu-img")]
    public void A_medium_impact_command_does_not_ask_at_the_default_ConfirmPreference()
    {
        var host = new PromptRecordingHost("No");
        using var runspace = runtime.Open(host);

        PowerShellRuntime.Run(runspace, "New-SparseVolume -Name quiet -Pool $Pool -Size 16MB", new Hashtable { ["Pool"] = pool.Name }).Succeeded();

        host.Prompts.Should().BeEmpty();
        File.Exists(Path.Combine(pool.Directory, "quiet.img")).Should().BeTrue();
    }

    public void Dispose() => pool.Dispose();


    private List<string> Snapshots(string qcow) =>
        runtime.Run("Get-VolumeSnapshot -VolumePath $Qcow | ForEach-Object Name", new Hashtable { ["Qcow"] = qcow }).Succeeded()
            .Output.Select(o => (string)o.BaseObject).ToList();
}
