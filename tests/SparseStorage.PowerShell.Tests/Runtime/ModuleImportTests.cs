using System.Collections;
using System.Management.Automation;
using System.Runtime.Versioning;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>The assembled module as Import-Module loads it: what it exports, what it requires, how it is built.</summary>
[Collection(PowerShellRuntimeCollection.Name)]
public sealed class ModuleImportTests(PowerShellRuntime runtime) : IDisposable
{
    private readonly CmdletAssembly assembly = new();

    private PSModuleInfo Module => runtime.Run("Get-Module -Name SparseStorage").Succeeded().Objects<PSModuleInfo>().Single();

    [Fact]
    public void The_module_exports_exactly_the_cmdlets_of_the_assembly_and_nothing_else()
    {
        Module.ExportedCmdlets.Keys.Should().BeEquivalentTo(assembly.All.Select(c => c.Name));
        Module.ExportedFunctions.Should().BeEmpty();
        Module.ExportedAliases.Should().BeEmpty();
    }

    [Fact]
    public void The_root_script_module_imports_the_cmdlets_as_a_binary_module_that_the_manifest_does_not_name()
    {
        Module.ModuleType.Should().Be(ModuleType.Script);
        Module.NestedModules.Should().ContainSingle(m => m.Name == "SparseStorage.PowerShell" && m.ModuleType == ModuleType.Binary);
        // The DSC class-resource loader refuses a binary module listed in NestedModules.
        Manifest().ContainsKey("NestedModules").Should().BeFalse();
    }

    [Fact]
    public void The_manifest_asks_for_PowerShell_7_4_on_Core_which_runs_the_net8_cmdlet_assembly()
    {
        Module.PowerShellVersion.Should().Be(new Version(7, 4));
        Module.CompatiblePSEditions.Should().Equal("Core");
        // PowerShell 7.4 is the first release on .NET 8; a later target would not load there, an earlier one is not built.
        assembly.Cmdlets.GetCustomAttributesData().Single(a => a.AttributeType.Name == nameof(TargetFrameworkAttribute))
            .ConstructorArguments.Single().Value.Should().Be(".NETCoreApp,Version=v8.0");
        assembly.Cmdlets.GetReferencedAssemblies().Single(a => a.Name == "System.Management.Automation").Version!.Major
            .Should().BeLessThanOrEqualTo(7, "the reference assemblies (PowerShellStandard.Library) bind to any PowerShell 7");
    }

    [Fact]
    public void Every_file_the_manifest_names_is_in_the_assembled_module()
    {
        var folder = Path.GetDirectoryName(AssembledModule.ManifestPath)!;
        var manifest = Manifest();
        var named = new[] { "RootModule", "FormatsToProcess", "TypesToProcess" }.Where(manifest.ContainsKey)
            .SelectMany(key => LanguagePrimitives.ConvertTo<string[]>(manifest[key]));

        named.Should().NotBeEmpty().And.OnlyContain(file => File.Exists(Path.Combine(folder, file)));
    }

    public void Dispose() => assembly.Dispose();

    private Hashtable Manifest() =>
        runtime.Run("Import-PowerShellDataFile -Path $Path", new Hashtable { ["Path"] = AssembledModule.ManifestPath }).Succeeded().Objects<Hashtable>().Single();
}
