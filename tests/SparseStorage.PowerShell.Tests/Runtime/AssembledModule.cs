using SparseStorage.Packager;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>
/// The module as users install it: the packager's assemble step (the one build.ps1 runs into out/) laid out once per
/// test run from the cmdlet assembly this build produced, so the runtime tests never import a stale copy in out/.
/// </summary>
public static class AssembledModule
{
    private static readonly Lazy<IReadOnlyList<Packager.AssembledModule>> Modules = new(Assemble);

    /// <summary>The assembled SparseStorage.psd1, for Import-Module.</summary>
    public static string ManifestPath => PathOf(ModuleAssembler.ModuleName);

    /// <summary>The assembled SparseStorageDsc.psd1 beside it (out/SparseStorageDsc/&lt;version&gt;/).</summary>
    public static string DscManifestPath => PathOf(ModuleAssembler.DscModuleName);

    private static string PathOf(string name) =>
        Path.Combine(Modules.Value.Single(m => m.Name == name).Folder, name + ".psd1");

    private static IReadOnlyList<Packager.AssembledModule> Assemble()
    {
        var output = Path.Combine(AppContext.BaseDirectory, "assembled");
        var warnings = new StringWriter();
        var modules = ModuleAssembler.Assemble(CmdletAssembly.RepositoryRoot, CmdletAssembly.Configuration, output, warnings);
        warnings.ToString().Should().BeEmpty("every exported cmdlet has a help page");
        return modules;
    }
}
