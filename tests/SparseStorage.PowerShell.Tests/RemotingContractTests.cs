using System.Xml.Linq;

namespace SparseStorage.PowerShell.Tests;

/// <summary>
/// Objects that come back from Invoke-Command are deserialized property bags (type names prefixed "Deserialized."):
/// no cmdlet can bind them by their live type, only by property name, and only from properties whose values survive
/// serialization as themselves (strings and numbers; other objects arrive as property bags or strings).
/// </summary>
public sealed class RemotingContractTests : IDisposable
{
    private static readonly HashSet<string> SurvivesSerialization = ["System.String", "System.Int32", "System.Int64", "System.Boolean"];
    private readonly CmdletAssembly assembly = new();

    /// <summary>Which emitted object pipes into which cmdlet, and the parameters that identify it there.</summary>
    public static TheoryData<string, string, string[]> Pipelines => new()
    {
        { "Get-SparseVolume", "Resize-SparseVolume", ["Path"] },
        { "Get-SparseVolume", "Remove-SparseVolume", ["Path"] },
        { "Get-SparseVolume", "Mount-SparseVolume", ["Path"] },
        { "Get-SparseVolume", "Dismount-SparseVolume", ["Path"] },
        { "Get-SparseVolume", "Copy-SparseVolume", ["Path"] },
        { "Get-SparseVolume", "Optimize-SparseVolume", ["Path"] },
        { "Get-SparseVolume", "Test-SparseVolume", ["Path"] },
        { "Get-SparseVolume", "Backup-SparseVolume", ["Path"] },
        { "Get-SparseVolume", "Compress-SparseVolume", ["Path"] },
        { "Get-SparseVolume", "Protect-Volume", ["Path"] },
        { "Get-SparseVolume", "Unprotect-Volume", ["Path"] },
        { "Get-SparseVolume", "Unlock-Volume", ["Path"] },
        { "Get-SparseVolume", "Lock-Volume", ["Path"] },
        { "Get-SparseVolume", "Add-VolumeKey", ["Path"] },
        { "Get-SparseVolume", "Remove-VolumeKey", ["Path"] },
        { "Get-SparseVolume", "Export-AtaoeDisk", ["Path"] },
        { "Get-SparseVolume", "Get-SparseVolume", ["Path"] },
        { "Get-SparseVolume", "New-VolumeSnapshot", ["VolumePath"] },
        { "Get-SparseVolume", "Get-VolumeSnapshot", ["VolumePath"] },
        { "Get-VolumeSnapshot", "Restore-VolumeSnapshot", ["VolumePath", "Name"] },
        { "Get-VolumeSnapshot", "Remove-VolumeSnapshot", ["VolumePath", "Name"] },
        { "Get-VolumeBackup", "Restore-SparseVolume", ["Backup"] },
        { "Get-VolumeBackup", "Remove-VolumeBackup", ["Backup"] },
        { "Compress-SparseVolume", "Expand-SparseVolume", ["Path"] },
        { "Get-AtaoeExport", "Stop-AtaoeExport", ["Shelf", "Slot", "Interface"] },
    };

    [Theory]
    [MemberData(nameof(Pipelines))]
    public void A_deserialized_object_binds_by_property_name_from_values_that_survive_serialization(string producer, string consumer, string[] identity)
    {
        var emitted = assembly.Get(producer).OutputTypes.Single(t => t.Assembly == assembly.Core);
        var parameters = assembly.Get(consumer).Parameters;
        foreach (var name in identity)
        {
            var parameter = parameters.Single(p => p.Name == name);
            parameter.Sets.Should().OnlyContain(s => s.FromPipelineByPropertyName, $"{consumer} -{name} binds by property name, the only way a deserialized object binds");
            var property = new[] { name }.Concat(parameter.Aliases).Select(n => emitted.GetProperty(n)).FirstOrDefault(p => p is not null);
            property.Should().NotBeNull($"{emitted.Name} carries a property that {consumer} -{name} binds from");
            SurvivesSerialization.Should().Contain(property!.PropertyType.FullName!, $"{emitted.Name}.{property.Name} must arrive as itself after deserialization");
        }
    }

    [Fact]
    public void Every_object_a_cmdlet_emits_has_a_view_for_itself_and_its_deserialized_form()
    {
        var document = XDocument.Load(Path.Combine(CmdletAssembly.RepositoryRoot, "module", "SparseStorage.format.ps1xml"));
        var views = document.Descendants("View").Select(v => v.Descendants("TypeName").Select(t => t.Value).ToHashSet()).ToList();
        foreach (var view in views)
            foreach (var live in view.Where(n => !n.StartsWith("Deserialized.", StringComparison.Ordinal)))
                view.Should().Contain("Deserialized." + live, "a view shows a remote object as it shows a local one");
        var emitted = assembly.All.SelectMany(c => c.OutputTypes).Where(t => t.Assembly == assembly.Core).Select(t => t.FullName!).Distinct();
        foreach (var type in emitted)
            views.Should().Contain(v => v.Contains(type) && v.Contains("Deserialized." + type), $"{type} needs a view");
    }

    [Fact]
    public void Every_pipeline_consumer_of_volumes_is_listed()
    {
        var listed = Pipelines.Select(row => (string)row[1]).ToHashSet();
        var bindsPath = assembly.All.Where(c => c.Parameters.Any(p => p.Name is "Path" or "VolumePath" && p.Sets.Any(s => s.FromPipelineByPropertyName)));
        bindsPath.Select(c => c.Name).Except(["Register-StoragePool", "New-SparseVolume"]).Should().BeSubsetOf(listed);
    }

    public void Dispose() => assembly.Dispose();
}
