using System.Collections;
using System.Management.Automation;
using System.Text.Json;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>
/// Every output type through the real <c>ConvertTo-Json -Depth 3</c>: nothing is cut off at that depth, sizes are
/// numbers of bytes, and enums are written by name.
/// </summary>
[Collection(PowerShellRuntimeCollection.Name)]
public sealed class JsonShapeTests(PowerShellRuntime runtime) : IDisposable
{
    private const int Depth = 3;
    private readonly TempPool pool = new(runtime);

    /// <summary>The command that makes a real object of each output type.</summary>
    public static TheoryData<string, string> Producers => new()
    {
        { "SparseStorage.Core.Volumes.SparseVolume", "Get-SparseVolume -Path $Raw" },
        { "SparseStorage.Core.Pools.StoragePool", "Get-StoragePool -Name $Pool" },
        { "SparseStorage.Core.Host.StorageHost", "Get-StorageHost" },
        { "SparseStorage.Core.Snapshots.VolumeSnapshot", "New-VolumeSnapshot -VolumePath $Qcow -Name s1" },
        { "SparseStorage.Core.Volumes.Resize.VolumeResizeResult", "Resize-SparseVolume -Path $Raw -Size 32MB" },
        { "SparseStorage.Core.Volumes.Maintenance.VolumeTestResult", "Test-SparseVolume -Path $Raw" },
        { "SparseStorage.Core.Volumes.Maintenance.VolumeOptimizeResult", "Optimize-SparseVolume -Path $Raw" },
        { "SparseStorage.Core.Backups.VolumeBackup", "Backup-SparseVolume -Path $Raw -Destination $Spare" },
        { "SparseStorage.Core.Backups.VolumeArchive", "Compress-SparseVolume -Path $Raw -Destination $Spare" },
        // AoE objects need a second host on an Ethernet segment (the Pester Ataoe suite builds one); here they are
        // made as Core makes them, with every member set, and converted by the same ConvertTo-Json.
        { "SparseStorage.Core.Aoe.AtaoeExport", "[SparseStorage.Core.Aoe.AtaoeExport]@{ Volume = 'r'; VolumePath = $Raw; Shelf = 1; Slot = 2; Interface = 'eth0'; MacAllow = [string[]]@('02:00:00:00:00:01') }" },
        { "SparseStorage.Core.Aoe.AtaoeTarget", "[SparseStorage.Core.Aoe.AtaoeTarget]@{ Shelf = 1; Slot = 2; Interface = 'eth0'; MacAddress = '02:00:00:00:00:01'; Sectors = 2048; FirmwareVersion = 'V24' }" },
        { "SparseStorage.Core.Aoe.AtaoeGroupUpdate", "[SparseStorage.Core.Aoe.AtaoeGroupUpdate]@{ VolumeGroup = 'cluster'; AddedDevices = [string[]]@('/dev/etherd/e1.2'); CreatedGroup = $true; Commands = [string[]]@('pvcreate /dev/etherd/e1.2') }" },
    };

    [IntegrationTheory("qemu-img", "mkfs.ext4", "e2fsck", "resize2fs", "losetup", "mount", "fstrim", "tar", "zstd")]
    [MemberData(nameof(Producers))]
    public void Output_type_converts_to_json_at_depth_3_whole_with_sizes_as_numbers_and_enums_by_name(string typeName, string producer)
    {
        var result = runtime.Run($"$o = @({producer}); $o; ConvertTo-Json -InputObject $o[0] -Depth {Depth} -WarningAction Continue", pool.NewVolumes()).Succeeded();

        var (emitted, json) = (result.Output[0], (string)result.Output[^1].BaseObject);
        emitted.BaseObject.GetType().FullName.Should().Be(typeName);
        result.Warnings.Should().BeEmpty($"depth {Depth} holds the whole {typeName}");
        var problems = new List<string>();
        Check(emitted.BaseObject, JsonDocument.Parse(json).RootElement, typeName, problems);
        problems.Should().BeEmpty();
    }

    [Fact]
    public void The_check_catches_an_enum_written_as_a_number_and_the_warning_catches_truncation()
    {
        var result = runtime.Run("$o = [System.IO.DirectoryInfo]::new('/'); $o; ConvertTo-Json -InputObject $o -Depth 1 -WarningAction Continue");

        var problems = new List<string>();
        Check(result.Output[0].BaseObject, JsonDocument.Parse((string)result.Output[^1].BaseObject).RootElement, "DirectoryInfo", problems);
        problems.Should().Contain(p => p.StartsWith("DirectoryInfo.Attributes is the enum Directory", StringComparison.Ordinal));
        result.Warnings.Should().NotBeEmpty("the root's Root and Parent lie below depth 1");
    }

    [Fact]
    public void Every_output_type_has_a_producer()
    {
        using var assembly = new CmdletAssembly();
        var declared = assembly.All.SelectMany(c => c.OutputTypes).Where(t => t.Assembly == assembly.Core).Select(t => t.FullName!).Distinct();
        Producers.Select(row => (string)row[0]).Should().BeEquivalentTo(declared);
    }

    [Fact]
    public void The_json_document_has_a_section_for_every_output_type()
    {
        var text = File.ReadAllText(Path.Combine(CmdletAssembly.RepositoryRoot, "docs", "json.md"));
        foreach (var name in Producers.Select(row => (string)row[0]))
            text.Should().Contain($"## {name.Split('.').Last()}", "docs/json.md documents each output type");
    }

    public void Dispose() => pool.Dispose();

    /// <summary>Compares each public property of the object with what the JSON holds for it.</summary>
    private static void Check(object value, JsonElement json, string path, List<string> problems)
    {
        foreach (var property in value.GetType().GetProperties().Where(p => p.GetIndexParameters().Length == 0))
        {
            var at = $"{path}.{property.Name}";
            if (!json.TryGetProperty(property.Name, out var element))
            {
                problems.Add($"{at} is missing");
                continue;
            }
            var member = property.GetValue(value);
            if (property.Name.EndsWith("Bytes", StringComparison.Ordinal) && element.ValueKind != JsonValueKind.Number)
                problems.Add($"{at} is a size but was written as {element.ValueKind}");
            else if (member is Enum && (element.ValueKind != JsonValueKind.String || element.GetString() != member.ToString()))
                problems.Add($"{at} is the enum {member} but was written as {element}");
            else if (member is not null and not IEnumerable && element.ValueKind == JsonValueKind.Object)
                Check(member, element, at, problems);
        }
    }
}
