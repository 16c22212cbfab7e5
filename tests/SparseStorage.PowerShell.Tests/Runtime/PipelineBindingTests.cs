using System.Collections;
using System.Management.Automation;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>
/// Every kind of object the module emits, and Get-ChildItem's files, piped into the cmdlets that take them, live and
/// deserialized (as Invoke-Command returns them: PSSerializer does the same in one process); and objects of the
/// wrong kind refused instead of naming something by accident.
/// </summary>
[Collection(PowerShellRuntimeCollection.Name)]
public sealed class PipelineBindingTests(PowerShellRuntime runtime) : IDisposable
{
    private const string Deserialized = "function Remote { process { [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($_)) } }; ";
    private readonly TempPool pool = new(runtime);

    /// <summary>A pipeline, and what its last command must write: each object's Path, Name or BackupPath, as "Kind:value".</summary>
    public static TheoryData<string, string[]> Pipelines => new()
    {
        { "Get-SparseVolume -Path $Raw | Get-SparseVolume", ["SparseVolume:r"] },
        { "Get-ChildItem -Path $PoolPath -Filter *.img | Get-SparseVolume", ["SparseVolume:r"] },
        { "Get-Item -Path $Qcow | Get-SparseVolume", ["SparseVolume:q"] },
        { "Get-StoragePool -Name $Pool | Get-SparseVolume", ["SparseVolume:q", "SparseVolume:r"] },
        { "'r', 'q' | Get-SparseVolume", ["SparseVolume:r", "SparseVolume:q"] },
        { "Get-VolumeSnapshot -VolumePath $Qcow | Get-SparseVolume", ["SparseVolume:q"] },
        { "Get-SparseVolume -Path $Raw | Test-SparseVolume", ["VolumeTestResult:r"] },
        { "Get-ChildItem -Path $PoolPath -Filter *.img | Test-SparseVolume", ["VolumeTestResult:r"] },
        { "Get-SparseVolume -Path $Raw | Resize-SparseVolume -Size 32MB", ["VolumeResizeResult:r"] },
        { "Get-SparseVolume -Path $Raw | Copy-SparseVolume -Destination copy", ["SparseVolume:copy"] },
        { "Get-SparseVolume -Path $Raw | Remove-SparseVolume -Force -PassThru", ["SparseVolume:r"] },
        { "Get-SparseVolume -Path $Qcow | Get-VolumeSnapshot", ["VolumeSnapshot:s0"] },
        { "Get-SparseVolume -Path $Qcow | New-VolumeSnapshot -Name s1", ["VolumeSnapshot:s1"] },
        { "Get-VolumeSnapshot -VolumePath $Qcow | Remove-VolumeSnapshot -Force -PassThru", ["VolumeSnapshot:s0"] },
        { "Get-VolumeSnapshot -VolumePath $Qcow | Restore-VolumeSnapshot -Force -PassThru", ["SparseVolume:q"] },
        { "Get-SparseVolume -Path $Raw | Backup-SparseVolume -Destination $Spare | Remove-VolumeBackup -Force -PassThru", ["VolumeBackup:r"] },
        { "Get-SparseVolume -Path $Raw | Compress-SparseVolume -Destination $Spare | Expand-SparseVolume -Destination (Join-Path $PoolPath 'back.img')", ["SparseVolume:back"] },
        { "Get-StoragePool -Name $Pool | Unregister-StoragePool -PassThru", ["StoragePool:pool"] },
        { Deserialized + "Get-SparseVolume -Path $Raw | Remote | Test-SparseVolume", ["VolumeTestResult:r"] },
        { Deserialized + "Get-SparseVolume -Path $Raw | Remote | Remove-SparseVolume -Force -PassThru", ["SparseVolume:r"] },
        { Deserialized + "Get-VolumeSnapshot -VolumePath $Qcow | Remote | Remove-VolumeSnapshot -Force -PassThru", ["VolumeSnapshot:s0"] },
        { Deserialized + "Get-SparseVolume -Path $Raw | Backup-SparseVolume -Destination $Spare | Remote | Remove-VolumeBackup -Force -PassThru", ["VolumeBackup:r"] },
        { Deserialized + "Get-StoragePool -Name $Pool | Remote | Get-SparseVolume", ["SparseVolume:q", "SparseVolume:r"] },
        { Deserialized + "Get-StoragePool -Name $Pool | Remote | Unregister-StoragePool -PassThru", ["StoragePool:pool"] },
    };

    [IntegrationTheory("qemu-img", "mkfs.ext4", "e2fsck", "resize2fs", "tar", "zstd")]
    [MemberData(nameof(Pipelines))]
    public void An_emitted_object_binds_to_the_next_cmdlet(string pipeline, string[] expected)
    {
        var result = runtime.Run(pipeline, pool.NewVolumes()).Succeeded();

        result.Output.Select(Describe).Should().Equal(expected);
    }

    [IntegrationFact("qemu-img")]
    public void A_volume_piped_into_Unregister_StoragePool_is_refused_and_the_pool_stays()
    {
        var result = runtime.Run("Get-SparseVolume -Path $Raw | Unregister-StoragePool -PassThru", pool.NewVolumes());

        result.Error.FullyQualifiedErrorId.Should().StartWith("InputObjectOfWrongType,");
        result.Output.Should().BeEmpty();
        runtime.Run("Get-StoragePool -Name $Pool", new Hashtable { ["Pool"] = pool.Name }).Succeeded().Output.Should().ContainSingle();
    }

    [IntegrationFact("qemu-img")]
    public void A_backup_set_or_snapshot_piped_into_Remove_SparseVolume_binds_to_nothing_and_removes_nothing()
    {
        var volumes = pool.NewVolumes();
        var before = pool.Snapshot();

        var result = runtime.Run("Get-VolumeSnapshot -VolumePath $Qcow | Remove-SparseVolume -Force", volumes);

        result.Error.FullyQualifiedErrorId.Should().StartWith("InputObjectNotBound,");
        pool.Snapshot().Should().Equal(before);
    }

    public void Dispose() => pool.Dispose();

    private string Describe(PSObject output)
    {
        var kind = output.TypeNames[0].Split('.').Last();
        string Value(string name) => output.Properties[name]?.Value?.ToString() ?? "";
        var value = kind switch
        {
            "VolumeSnapshot" => Value("Name"),
            "VolumeBackup" => Value("Source"),
            "StoragePool" => Value("Name") == pool.Name ? "pool" : Value("Name"),
            _ => Value("Name"),
        };
        return $"{kind}:{value}";
    }
}
