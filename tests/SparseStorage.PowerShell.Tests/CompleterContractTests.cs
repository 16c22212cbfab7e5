using System.Reflection;

namespace SparseStorage.PowerShell.Tests;

/// <summary>Every parameter that names an existing volume, pool, snapshot, backup set or interface offers tab completion.</summary>
public sealed class CompleterContractTests : IDisposable
{
    private static readonly string[] NameLike = ["Name", "Volume", "VolumeName", "Pool", "Snapshot", "Backup", "Interface", "LoopDevice", "Device", "VolumeGroup", "LogicalVolume"];

    /// <summary>Parameters that name something the command creates, where no existing name could be offered.</summary>
    private static readonly (string Cmdlet, string Parameter)[] NewNames =
    [
        ("Register-StoragePool", "Name"),
        ("New-SparseVolume", "Name"),
        ("New-VolumeSnapshot", "Name"),
        // LVM names on the supervisor: the group and the logical volume are created by the command when absent.
        ("Add-AtaoeDiskToGroup", "VolumeGroup"),
        ("Add-AtaoeDiskToGroup", "LogicalVolume"),
    ];

    private readonly CmdletAssembly assembly = new();

    [Fact]
    public void Every_name_like_parameter_has_a_completer_unless_it_names_something_new()
    {
        var missing = assembly.All
            .SelectMany(c => c.Parameters.Where(IsNameLike).Select(p => (Cmdlet: c.Name, Parameter: p)))
            .Where(x => !NewNames.Contains((x.Cmdlet, x.Parameter.Name)) && Completer(x.Parameter) is null)
            .Select(x => $"{x.Cmdlet} -{x.Parameter.Name}");
        missing.Should().BeEmpty();
    }

    [Fact]
    public void The_exemptions_are_real_parameters_without_a_completer()
    {
        foreach (var (cmdlet, parameter) in NewNames)
            Completer(assembly.Get(cmdlet).Parameters.Single(p => p.Name == parameter)).Should().BeNull($"{cmdlet} -{parameter} names a new thing");
    }

    [Fact]
    public void Each_kind_of_name_is_completed_by_the_completer_for_that_kind()
    {
        foreach (var cmdlet in assembly.All)
            foreach (var parameter in cmdlet.Parameters.Where(p => Completer(p) is not null))
            {
                var expected = (cmdlet.Name, parameter.Name) switch
                {
                    (_, "Pool") => "PoolNameCompleter",
                    (_, "Interface") => "NetworkInterfaceCompleter",
                    (_, "LoopDevice") => "LoopDeviceCompleter",
                    (_, "Backup") => "BackupSetCompleter",
                    ("Get-VolumeBackup", "Volume") => "BackedUpVolumeCompleter",
                    (_, "Volume") => "VolumeNameCompleter",
                    ("Get-StoragePool" or "Unregister-StoragePool", "Name") => "PoolNameCompleter",
                    (_, "Name") when cmdlet.Noun == "VolumeSnapshot" => "SnapshotNameCompleter",
                    (_, "Name") => "VolumeNameCompleter",
                    _ => "(no rule)",
                };
                Completer(parameter)!.Name.Should().Be(expected, $"{cmdlet.Name} -{parameter.Name}");
            }
    }

    [Fact]
    public void Every_parameter_naming_a_loop_device_completes_loop_devices() =>
        assembly.All.SelectMany(c => c.Parameters).Where(p => p.Name.Contains("Loop") || p.Name == "Device")
            .Should().NotBeEmpty().And.OnlyContain(p => Completer(p)!.Name == "LoopDeviceCompleter");

    private static bool IsNameLike(ParameterInfo parameter) =>
        parameter.Type.FullName is "System.String" or "System.String[]"
        && (NameLike.Contains(parameter.Name) || parameter.Name.EndsWith("Name", StringComparison.Ordinal));

    private static Type? Completer(ParameterInfo parameter) =>
        parameter.Property.GetCustomAttributesData().Where(a => a.AttributeType.Name == "ArgumentCompleterAttribute")
            .Select(a => a.ConstructorArguments.Single().Value).OfType<Type>().SingleOrDefault();

    public void Dispose() => assembly.Dispose();
}
