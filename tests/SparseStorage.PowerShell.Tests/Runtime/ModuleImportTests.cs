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
    public void The_module_is_the_cmdlet_assembly_itself_with_no_script_to_compile_at_import()
    {
        Module.ModuleType.Should().Be(ModuleType.Binary);
        Module.ImplementingAssembly.GetName().Name.Should().Be("SparseStorage.PowerShell");
        Module.NestedModules.Should().BeEmpty();
        Manifest()["RootModule"].Should().Be("SparseStorage.PowerShell.dll");
        Manifest().ContainsKey("DscResourcesToExport").Should().BeFalse("the DSC resources live in SparseStorageDsc");
        Directory.EnumerateFiles(Path.GetDirectoryName(AssembledModule.ManifestPath)!, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".psm1", StringComparison.Ordinal) || f.EndsWith(".ps1", StringComparison.Ordinal))
            .Should().BeEmpty("no script is compiled when the module is imported");
    }

    [Fact]
    public void SparseStorageDsc_requires_this_version_of_SparseStorage_and_exports_the_two_resources()
    {
        var dsc = runtime.Run("Import-PowerShellDataFile -Path $Path", new Hashtable { ["Path"] = AssembledModule.DscManifestPath })
            .Succeeded().Objects<Hashtable>().Single();

        dsc["RootModule"].Should().Be("SparseStorageDsc.psm1");
        dsc["ModuleVersion"].Should().Be(Module.Version.ToString());
        var required = LanguagePrimitives.ConvertTo<Hashtable[]>(dsc["RequiredModules"]).Should().ContainSingle().Subject;
        required["ModuleName"].Should().Be("SparseStorage");
        required["RequiredVersion"].Should().Be(Module.Version.ToString());
        LanguagePrimitives.ConvertTo<string[]>(dsc["DscResourcesToExport"]).Should().BeEquivalentTo("SparseVolume", "SparseStoragePool");
        // The DSC class-resource loader refuses a binary module listed in NestedModules.
        dsc.ContainsKey("NestedModules").Should().BeFalse();
    }

    [Fact]
    public void Using_module_SparseStorageDsc_defines_the_resource_classes_over_the_loaded_SparseStorage()
    {
        using var runspace = runtime.Open();
        var names = PowerShellRuntime.Run(runspace,
            "[scriptblock]::Create(\"using module '$Path'`n[SparseVolume], [SparseStoragePool]\").Invoke().Name; " +
            "@(Get-Module -Name SparseStorage).Count",
            new Hashtable { ["Path"] = AssembledModule.DscManifestPath }).Succeeded().Objects<object>().Select(o => o.ToString());

        names.Should().Equal("SparseVolume", "SparseStoragePool", "1");
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
